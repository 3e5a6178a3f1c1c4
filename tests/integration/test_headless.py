import json
import subprocess
import sys

from tests.conftest import REPO

CONTRACT_KEYS = {"venue", "symbols", "events", "rejected_events", "signals", "trades_opened", "trades_closed",
                 "win_rate", "avg_reward", "training_events", "wall_s", "events_per_s"}
TRADE_KEYS = {"id", "symbol", "side", "qty", "entry_price", "exit_price", "entry_time", "exit_time", "pnl", "fees",
              "source", "signal_id", "models", "reward", "reward_components", "trained"}


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, str(REPO / "cli.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def test_headless_sim_hour_writes_the_summary_contract(tmp_path):
    out = tmp_path / "s.json"
    config = tmp_path / "c.toml"
    config.write_text("[models]\nenabled = false\n")  # the market and ledger path; models are tested elsewhere
    proc = cli("run", "--venue", "sim", "--duration", "3600", "--speed", "max", "--seed", "1", "--config", str(config),
               "--db", str(tmp_path / "h.db"), "--no-auto", "--summary-json", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "[SIM]" in proc.stderr  # progress on stderr, labelled
    summary = json.loads(out.read_text())
    assert CONTRACT_KEYS <= summary.keys()
    assert summary["venue"] == "sim" and summary["symbols"] == ["ETH/USDT", "BTC/USDT"]
    assert summary["events"] > 50_000 and summary["rejected_events"] == 0
    assert abs(summary["event_time_s"] - 3600) < 1
    assert set(summary["training_events"]) == {"cnn", "dqn", "cob_rl"}
    assert summary["per_symbol"]["ETH/USDT"]["trades"] > 10_000
    assert "disabled" in summary["models_status"]


def test_live_orders_need_explicit_confirmation_and_a_live_venue(tmp_path):
    proc = cli("run", "--live-orders", "--db", str(tmp_path / "x.db"))
    assert proc.returncode == 2 and "--yes-i-mean-it" in proc.stderr
    proc = cli("run", "--live-orders", "--yes-i-mean-it", "--venue", "sim", "--db", str(tmp_path / "x.db"))
    assert proc.returncode == 2 and "--venue live" in proc.stderr


def test_trades_json_lists_closed_trades_with_the_contract_fields(tmp_path):
    import asyncio

    from engine.core.enums import Side
    from tests.helpers import run_round_trip, sim_engine

    db = tmp_path / "t.db"
    asyncio.run(run_round_trip(sim_engine(str(db)), Side.BUY))
    proc = cli("trades", "--json", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    [trade] = json.loads(proc.stdout)
    assert TRADE_KEYS <= trade.keys()
    assert trade["source"] == "manual" and trade["side"] == "buy" and trade["qty"] == 0.5
    assert trade["entry_price"] > 0 and trade["exit_price"] > 0 and trade["fees"] > 0


def test_trades_on_a_missing_ledger_is_a_usage_error(tmp_path):
    proc = cli("trades", "--json", "--db", str(tmp_path / "nope.db"))
    assert proc.returncode == 2 and "no ledger" in proc.stderr
