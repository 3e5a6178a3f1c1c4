"""A stop signal ends a headless run cleanly (exit 0, summary written, nothing pending,
checkpoints holding every training the ledger records); a second session process on the
same workspace is refused with exit 2 naming the holder, while read-only commands work."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from engine.runtime.lock import WorkspaceBusy, WorkspaceLock
from tests.reliability.kill_harness import CONFIG, cli

pytestmark = pytest.mark.slow


def _wait_for(path: Path, needle: str, proc: subprocess.Popen, timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if needle in path.read_text(errors="replace"):
            return
        assert proc.poll() is None, f"the run ended early: {path.read_text()[-2000:]}"
        time.sleep(0.5)
    raise AssertionError(f"{needle!r} not seen in {timeout_s} s")


@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_a_stop_signal_drains_saves_and_exits_0(tmp_path, sig):
    ws, config, summary, err = tmp_path / "ws", tmp_path / "c.toml", tmp_path / "summary.json", tmp_path / "err.txt"
    config.write_text(CONFIG)
    with err.open("w") as stderr:
        proc = subprocess.Popen(cli("run", "--venue", "sim", "--duration", "1000000", "--speed", "max", "--auto",
                                    "--config", str(config), "--workspace", str(ws), "--summary-json", str(summary)),
                                stdout=subprocess.DEVNULL, stderr=stderr)
        _wait_for(err, "TRAINED ALL MODELS", proc)
        proc.send_signal(sig)
        rc = proc.wait(timeout=180)
    assert rc == 0, err.read_text()[-2000:]
    result = json.loads(summary.read_text())
    assert result["stopped_by"] == sig.name and result["pending_training"] == 0 and result["trades_closed"] > 0
    conn = sqlite3.connect(ws / "ledger.db")
    trained = dict(conn.execute("SELECT model, COUNT(DISTINCT trade_id) FROM training_events WHERE"
                                " kind = 'trade_outcome' AND status = 'trained' GROUP BY model").fetchall())
    assert conn.execute("SELECT COUNT(*) FROM pending_training").fetchone()[0] == 0
    conn.close()
    for model, n in trained.items():
        held = torch.load(ws / "models" / f"{model}.pt", weights_only=True)["trade_outcomes"]
        assert len(held) == n, model


def test_a_second_session_on_the_workspace_exits_2_naming_the_holder(tmp_path):
    ws, config = tmp_path / "ws", tmp_path / "nomodels.toml"
    config.write_text("[models]\nenabled = false\n")
    run = cli("run", "--venue", "sim", "--duration", "5", "--speed", "max", "--workspace", str(ws), "--config", str(config))
    subprocess.run(run, capture_output=True, check=True, timeout=300)  # a ledger to read
    with WorkspaceLock(ws / "lock"):
        second = subprocess.run(run, capture_output=True, text=True, timeout=300)
        assert second.returncode == 2
        assert second.stderr.strip() == f"tickdesk: error: ledger in use by pid {os.getpid()} (lock {ws / 'lock'})"
        trades = subprocess.run(cli("trades", "--json", "--workspace", str(ws)), capture_output=True, text=True,
                                timeout=120)
        assert trades.returncode == 0 and json.loads(trades.stdout) == []  # read-only commands still work
        vacuum = subprocess.run(cli("db", "vacuum", "--workspace", str(ws)), capture_output=True, text=True, timeout=120)
        assert vacuum.returncode == 2 and "ledger in use by pid" in vacuum.stderr


def test_the_lock_names_its_holder_and_is_free_again_after_release(tmp_path):
    lock = WorkspaceLock(tmp_path / "lock").acquire()
    code = (f"from engine.runtime.lock import WorkspaceLock, WorkspaceBusy\n"
            f"try:\n    WorkspaceLock({str(tmp_path / 'lock')!r}).acquire()\n"
            f"except WorkspaceBusy as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.startswith(f"ledger in use by pid {os.getpid()} ")
    lock.release()
    with WorkspaceLock(tmp_path / "lock"):
        pass
    with pytest.raises(WorkspaceBusy):  # flock is per open file: a second holder in one process is refused too
        with WorkspaceLock(tmp_path / "lock"), WorkspaceLock(tmp_path / "lock"):
            pass


def test_the_workspace_its_models_folder_and_the_tui_log_are_owner_only(tmp_path):
    import stat

    from engine.config import load_settings
    from engine.runtime.workspace import claim, private_file

    ws = tmp_path / "ws"
    ws.mkdir(mode=0o755)
    os.chmod(ws, 0o755)  # an existing, loose folder is tightened
    lock = claim(load_settings(use_user_config=False, overrides={"storage": {"workspace": str(ws)}}))
    try:
        for folder in (ws, ws / "models"):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        assert stat.S_IMODE((ws / "lock").stat().st_mode) == 0o600
        log = ws / "ledger.log"  # the TUI's log beside the ledger
        log.write_text("an older, loose log\n")
        os.chmod(log, 0o644)
        assert private_file(log) == log and stat.S_IMODE(log.stat().st_mode) == 0o600
        assert log.read_text() == "an older, loose log\n", "tightened, not truncated"
    finally:
        lock.release()
    # --db: the ledger's folder is the user's; only the models beside it are made private
    lock = claim(load_settings(use_user_config=False, overrides={"storage": {"db": str(tmp_path / "a.db")}}))
    lock.release()
    assert stat.S_IMODE((tmp_path / "a.models").stat().st_mode) == 0o700 and (tmp_path / "a.db.lock").exists()

