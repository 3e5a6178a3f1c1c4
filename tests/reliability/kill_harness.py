"""kill -9 at random moments of an auto-trading SIM run, restarting on the same workspace.

    python -m tests.reliability.kill_harness --kills 20 --workspace /tmp/kills [--min-s 1 --max-s 30]

Each round starts `tickdesk run --venue sim --speed max --auto` on the workspace, waits a
random time, reads the closed trades the ledger has acknowledged (`tickdesk trades --json`,
as a user would), sends SIGKILL and checks that every acknowledged trade is still there.
After the kills one clean run (`--duration 120`) recovers what is pending; then the checks:
no acknowledged trade lost, nothing pending, no (trade, model) trained twice, no negative
hold time, and per model the checkpoint's trade outcomes equal the ledger's trained ones.
Prints one JSON report; exit 0 when every check holds. tests/reliability/test_restart.py
runs it with two kills; the 20-kill figures in docs/RELIABILITY.md come from this command.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODELS = ("cnn", "dqn", "cob_rl")
# Fresh models trade at once: a short calibration and a high exploration rate, then threshold 0
# trades every decision; max hold makes trades short.
CONFIG = """[models]
confidence_threshold = 0.0
calibration_min_pairs = 20
explore_per_hour_start = 600.0
device = "cpu"
[risk]
max_hold_s = 20.0
"""


def cli(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "cli.py"), *args]


def acknowledged(workspace: Path, config: Path) -> set[str]:
    out = subprocess.run(cli("trades", "--json", "--workspace", str(workspace), "--config", str(config)),
                         capture_output=True, text=True, timeout=120)
    return {t["id"] for t in json.loads(out.stdout)} if out.returncode == 0 and out.stdout.strip() else set()


def ledger_rows(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def checkpoint_trades(models: Path) -> dict[str, int | None]:
    import torch

    out: dict[str, int | None] = {}
    for m in MODELS:
        path = models / f"{m}.pt"
        out[m] = len(torch.load(path, weights_only=True)["trade_outcomes"]) if path.exists() else None
    return out


def run(kills: int, workspace: Path, min_s: float, max_s: float, seed: int, log_dir: Path,
        final_s: float = 120.0) -> dict:
    rng = random.Random(seed)
    workspace.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    config = log_dir / "kill.toml"
    config.write_text(CONFIG)
    db = workspace / "ledger.db"
    rounds = []
    for i in range(kills):
        wait = rng.uniform(min_s, max_s)
        with open(log_dir / f"run{i}.err", "w") as err:
            proc = subprocess.Popen(cli("run", "--venue", "sim", "--duration", "1000000", "--speed", "max", "--seed",
                                        str(i + 1), "--auto", "--config", str(config), "--workspace", str(workspace),
                                        "--summary-json", str(log_dir / f"run{i}.json")),
                                    stdout=subprocess.DEVNULL, stderr=err)
            time.sleep(wait)
            acked = acknowledged(workspace, config) if db.exists() else set()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        have = {r[0] for r in ledger_rows(db, "SELECT id FROM closed_trades")} if db.exists() else set()
        pending = ledger_rows(db, "SELECT COUNT(*) FROM pending_training")[0][0] if db.exists() else 0
        rounds.append({"kill": i + 1, "after_s": round(wait, 1), "acknowledged": len(acked), "lost": len(acked - have),
                       "closed": len(have), "pending": pending})
        print(json.dumps(rounds[-1]), file=sys.stderr, flush=True)
    final = subprocess.run(cli("run", "--venue", "sim", "--duration", str(final_s), "--speed", "max", "--seed", "99", "--auto",
                               "--config", str(config), "--workspace", str(workspace),
                               "--summary-json", str(log_dir / "final.json")),
                           stdout=subprocess.DEVNULL, stderr=open(log_dir / "final.err", "w"), timeout=1800)
    ledger_trained = dict(ledger_rows(db, "SELECT model, COUNT(DISTINCT trade_id) FROM training_events"
                                          " WHERE kind = 'trade_outcome' AND status = 'trained' GROUP BY model"))
    report = {
        "kills": kills,
        "final_rc": final.returncode,
        "acknowledged_lost": sum(r["lost"] for r in rounds),
        "acknowledged_last": rounds[-1]["acknowledged"] if rounds else 0,
        "closed_trades": ledger_rows(db, "SELECT COUNT(*) FROM closed_trades")[0][0],
        "pending": ledger_rows(db, "SELECT COUNT(*) FROM pending_training")[0][0],
        "duplicate_trained": ledger_rows(db, "SELECT COUNT(*) FROM (SELECT trade_id, model FROM training_events"
                                             " WHERE kind = 'trade_outcome' AND status = 'trained'"
                                             " GROUP BY trade_id, model HAVING COUNT(*) > 1)")[0][0],
        "negative_hold": ledger_rows(db, "SELECT COUNT(*) FROM closed_trades WHERE exit_ns < entry_ns")[0][0],
        "ledger_trained": {m: ledger_trained.get(m, 0) for m in MODELS},
        "checkpoint_trained": checkpoint_trades(workspace / "models"),
        "max_pending_after_a_kill": max((r["pending"] for r in rounds), default=0),
        "rounds": rounds,
    }
    report["ok"] = (report["final_rc"] == 0 and report["acknowledged_lost"] == 0 and report["pending"] == 0
                    and report["duplicate_trained"] == 0 and report["negative_hold"] == 0
                    and report["ledger_trained"] == report["checkpoint_trained"])
    return report


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--workspace", type=Path, required=True)
    p.add_argument("--logs", type=Path, default=None, help="stderr and summaries of each run (default: <workspace>.logs)")
    p.add_argument("--min-s", type=float, default=1.0)
    p.add_argument("--max-s", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--final-s", type=float, default=120.0, help="event seconds of the final clean run")
    a = p.parse_args()
    report = run(a.kills, a.workspace, a.min_s, a.max_s, a.seed, a.logs or a.workspace.with_name(a.workspace.name + ".logs"),
                 a.final_s)
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
