"""Training against the event stream (engine/learning/schedule.py).

Lockstep (sim at --speed max): every closed trade and every matured label is trained, and
its weights published, before the next decision, so the same command twice gives the same
trades and the same weights, and the event-time training lag is exactly 0. Real time: the
engine never waits for training; matured labels wait in a bounded queue whose oldest are
dropped and counted, and no closed trade's outcome is ever dropped.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path

import pytest
import torch

from engine.runtime.engine import Engine
from engine.venues.factory import make_venue
from models.trainer import Trainer
from tests.conftest import REPO, XDG_DIRS
from tests.helpers import sim_settings

EVENT_S = 1200  # 20 minutes: labels mature from 15 minutes on, and the DQN gets past its warm-up
# Fresh models trade by exploration while they calibrate: a high exploration rate, a short
# calibration and a 20 s holding limit make them trade every ~10-20 s, so trades, rewards and
# all three models' training (the DQN's prioritized replay included) are exercised.
CHURN = ("[models]\nexplore_per_hour_start = 600.0\ncalibration_min_pairs = 20\n"
         "[risk]\nmax_hold_s = 20.0\n")
WALL_KEYS = {"wall_s", "events_per_s", "db"}  # the only summary keys a rerun may change


def _run(base: Path) -> dict:
    """`tickdesk run` on the sim at max speed in its own fresh HOME; the summary, the
    trades as `tickdesk trades --json` gives them, the ledger path and the checkpoints."""
    home = base / "home"
    env = {**os.environ, "HOME": str(home), **{var: str(home / sub) for var, sub in XDG_DIRS.items()}}
    config, summary, db = base / "churn.toml", base / "summary.json", base / "ledger.db"
    config.write_text(CHURN)
    run = subprocess.run([sys.executable, str(REPO / "cli.py"), "run", "--venue", "sim", "--duration", str(EVENT_S),
                          "--speed", "max", "--auto", "--seed", "1", "--config", str(config), "--db", str(db),
                          "--summary-json", str(summary)], capture_output=True, text=True, env=env, cwd=REPO,
                         timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    trades = subprocess.run([sys.executable, str(REPO / "cli.py"), "trades", "--json", "--db", str(db)],
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert trades.returncode == 0, trades.stderr[-2000:]
    return {"summary": json.loads(summary.read_text()), "trades": json.loads(trades.stdout), "db": db,
            "checkpoints": base / "ledger.models"}  # beside the --db ledger


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> list[dict]:
    return [_run(tmp_path_factory.mktemp(f"run{i}")) for i in (1, 2)]


def _tensors(obj, prefix=""):
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _tensors(v, f"{prefix}/{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _tensors(v, f"{prefix}/{i}")


def _checkpoint(directory: Path, model: str) -> dict[str, torch.Tensor]:
    payload = torch.load(directory / f"{model}.pt", map_location="cpu", weights_only=False)
    return dict(_tensors({"state": payload["state"], "optimizer": payload["optimizer"]}))


@pytest.mark.slow  # two 20-minute sim runs with the models, ~80 s on 2 cores (shared)
def test_the_same_command_twice_gives_identical_trades_and_weights(two_runs) -> None:
    first, second = two_runs
    assert len(first["trades"]) >= 32, "enough trades to get the DQN past its warm-up"
    assert all(first["summary"]["models"][m]["steps"] > 0 for m in ("cnn", "dqn", "cob_rl"))

    def decisions(trades):  # ids carry a random suffix; everything a trader acts on may not differ
        return [{k: v for k, v in t.items() if k not in ("id", "signal_id")} for t in trades]

    assert decisions(first["trades"]) == decisions(second["trades"])
    assert {k: v for k, v in first["summary"].items() if k not in WALL_KEYS} == \
           {k: v for k, v in second["summary"].items() if k not in WALL_KEYS}
    for model in ("cnn", "dqn", "cob_rl"):
        a, b = _checkpoint(first["checkpoints"], model), _checkpoint(second["checkpoints"], model)
        assert a.keys() == b.keys() and a
        differ = [name for name in a if not torch.equal(a[name], b[name])]
        assert not differ, f"{model}: {len(differ)} tensors differ, e.g. {differ[:3]}"


def _next_decision(signals: list[tuple[int, dict]], after_ns: int) -> dict | None:
    return next((versions for ts, versions in signals if ts > after_ns), None)


@pytest.mark.slow  # two 20-minute sim runs with the models, ~80 s on 2 cores (shared)
def test_lockstep_trains_everything_before_the_next_decision_with_zero_lag(two_runs) -> None:
    run = two_runs[0]
    with sqlite3.connect(run["db"]) as conn:
        signals = [(ts, json.loads(v)) for ts, v in conn.execute(
            "SELECT ts_ns, model_versions FROM signals WHERE kind = 'auto' ORDER BY ts_ns")]
        trades = conn.execute("SELECT id, exit_ns FROM closed_trades ORDER BY exit_ns").fetchall()
        trained_trades = 0
        for trade_id, exit_ns in trades:
            events = conn.execute("SELECT model, model_version, ts_ns FROM training_events"
                                  " WHERE trade_id = ? AND kind = 'trade_outcome'", (trade_id,)).fetchall()
            assert events, f"trade {trade_id} was never trained"
            trained_trades += 1
            nxt = _next_decision(signals, exit_ns)
            for model, version, ts_ns in events:
                assert ts_ns == exit_ns, "trained at the event time the trade closed: no event in between"
                if nxt is not None:
                    assert nxt[model] >= version, f"the decision after {trade_id} ran on an older {model}"
        matured = sorted(ts for (ts,) in conn.execute("SELECT DISTINCT ts_ns FROM horizon_outcomes"))
        labels = conn.execute("SELECT COUNT(DISTINCT signal_id) FROM horizon_outcomes").fetchone()[0]
        label_steps = {model: conn.execute("SELECT model_version, ts_ns FROM training_events WHERE kind = 'horizon_label'"
                                           " AND model = ? ORDER BY ts_ns", (model,)).fetchall() for model in ("cnn", "dqn")}
    per_step = sim_settings().models.cnn_labels_per_step
    assert labels > 0 and [ts for _, ts in label_steps["dqn"]] == matured, "a DQN step at each moment labels matured"
    assert [ts for _, ts in label_steps["cnn"]] == matured[per_step - 1::per_step], \
        f"a CNN step as every {per_step}th label matured (labels mature one at a time, 15 s apart)"
    for model, steps in label_steps.items():
        for version, ts_ns in steps:
            nxt = _next_decision(signals, ts_ns)
            if nxt is not None:
                assert nxt[model] >= version, f"the next decision's {model} had learned the labels"
    assert run["summary"]["training_lag_event_s"] == {"mode": "lockstep", "count": trained_trades + labels,
                                                      "p50": 0.0, "max": 0.0, "labels_dropped": 0}


class HeldLabels:
    """The real Trainer, with its CNN label steps held until `release()`: the extreme of a
    trainer too slow for the rate labels mature at, and a deterministic one. Everything else
    (predictions, trade outcomes, metrics, close) is the Trainer's own; a held label batch is
    trained for real once released."""

    def __init__(self, trainer: Trainer) -> None:
        self._trainer = trainer
        self._gate = threading.Event()
        self.batches: list[int] = []

    def __getattr__(self, name: str):
        return getattr(self._trainer, name)

    def submit_labels(self, batch):
        self.batches.append(len(batch))
        fut: Future = Future()

        def train_when_released() -> None:
            self._gate.wait()
            try:
                fut.set_result(self._trainer.submit_labels(batch).result())
            except BaseException as exc:  # noqa: BLE001 - reported through the future
                fut.set_exception(exc)

        threading.Thread(target=train_when_released, daemon=True).start()
        return fut

    def release(self) -> None:
        self._gate.set()


async def test_real_time_bounds_the_label_queue_and_never_drops_a_trade(tmp_path) -> None:
    """At --speed 1 the engine does not wait for training. The wall clock given to the pacer
    advances 10 s per reading, so the market outruns the (held) trainer: what a slow trainer
    looks like from the engine, without waiting 20 minutes."""
    queue_max, batch_max = 4, 8
    db = tmp_path / "rt.db"
    settings = sim_settings(str(db), engine={"speed": "1"}, risk={"max_hold_s": 20.0},
                            models={"enabled": True, "device": "cpu", "auto_trade": True, "explore_per_hour_start": 600.0,
                                    "label_queue_max": queue_max, "label_batch_max": batch_max})
    learner = HeldLabels(Trainer("cpu", None, "sim", seed=1))
    wall = itertools.count(0.0, 10.0).__next__
    engine = Engine(settings, make_venue(settings), db_path=db, wall=wall, trainer=learner, auto=True)
    try:
        await engine.start()
        assert engine.training.real_time
        await engine.run(EVENT_S)
        held_at_end = (list(learner.batches), len(engine.labels.waiting), engine.labels.dropped)
        learner.release()
        await engine.drain()
        released = list(learner.batches)
        summary = engine.training.summary()
    finally:
        await engine.close()
    with sqlite3.connect(db) as conn:
        closed = conn.execute("SELECT COUNT(*) FROM closed_trades").fetchone()[0]
        untrained = conn.execute("SELECT COUNT(*) FROM closed_trades WHERE id NOT IN"
                                 " (SELECT trade_id FROM training_events WHERE kind = 'trade_outcome')").fetchone()[0]
        pending = conn.execute("SELECT COUNT(*) FROM pending_training").fetchone()[0]
        matured = conn.execute("SELECT COUNT(DISTINCT signal_id) FROM horizon_outcomes").fetchone()[0]
        label_steps = conn.execute("SELECT COUNT(*) FROM training_events WHERE kind = 'horizon_label'"
                                   " AND model = 'cnn'").fetchone()[0]
    # A dropped label loses its training step, not its outcome record: `matured` counts all.
    dropped = matured - 1 - queue_max
    assert dropped > 0
    assert held_at_end == ([1], queue_max, dropped), "one batch held in flight, a full queue, the rest dropped"
    assert released == [1, queue_max] and label_steps == 2, "the waiting labels went to the models as one batch"
    assert closed >= 10 and untrained == 0 and pending == 0, "every closed trade trained: outcomes are never dropped"
    assert summary["mode"] == "real_time" and summary["labels_dropped"] == dropped
    assert summary["count"] == closed + 1 + queue_max
    assert summary["max"] > 0, "the held label's lag is measured in event time, not assumed"


def test_headless_summary_reports_the_lag_key_without_models(tmp_path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[models]\nenabled = false\n")
    out = tmp_path / "s.json"
    proc = subprocess.run([sys.executable, str(REPO / "cli.py"), "run", "--venue", "sim", "--duration", "60",
                           "--speed", "max", "--config", str(config), "--db", str(tmp_path / "n.db"),
                           "--summary-json", str(out)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(out.read_text())["training_lag_event_s"] == {
        "mode": "lockstep", "count": 0, "p50": None, "max": None, "labels_dropped": 0}

