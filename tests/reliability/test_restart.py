"""After a hard stop, a restart recovers open positions and their signal links."""

import asyncio

from engine.core.enums import Side
from tests.helpers import sim_engine


async def test_open_position_survives_a_crash_and_can_be_closed_after_restart(tmp_path):
    db = str(tmp_path / "r.db")
    first = sim_engine(db)
    await first.start()
    await first.run(20)
    plan = await first.submit(Side.SELL, 0.25)
    opened = plan.after
    # Simulated kill -9: no close(), no drain; just drop the connection as the OS would.
    await first.ledger.conn.close()

    second = sim_engine(db)
    await second.start()
    pos = second.portfolio.position("ETH/USDT")
    assert pos is not None and pos.id == opened.id and pos.side is Side.SELL and pos.qty == 0.25
    assert second.portfolio.balance == first.portfolio.balance
    await second.run(10)
    closed = (await second.close_position()).closed
    assert closed.id == opened.id
    await second.close()
