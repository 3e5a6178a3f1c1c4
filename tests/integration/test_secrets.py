"""API credentials never reach an output: a DEBUG run on the live path, with live orders,
against the loopback server, leaves neither the key nor the secret in stdout, stderr (the
log) or any file it wrote, the ledger included; and the masking covers every way a log record
can carry them."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core import redact
from tests.conftest import REPO

KEY, SECRET = "AKIA-tickdesk-test-KEY-7f3a9c", "SEKRIT-tickdesk-test-secret-44b1d0"


def _files_holding(root: Path, needles: tuple[str, ...]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {n}" for n in needles if n.encode() in data]
    return hits


def test_a_debug_live_run_with_live_orders_never_shows_the_credentials(tmp_path, shared_data, isolated_home,
                                                                       monkeypatch):
    config = tmp_path / "c.toml"
    config.write_text("[models]\nconfidence_threshold = 0.0\ncalibration_min_pairs = 20\nexplore_per_hour_start = 600.0\n[risk]\nmax_hold_s = 20.0\n")  # trade at once
    db, summary = tmp_path / "live.db", tmp_path / "s.json"
    monkeypatch.setenv("TICKDESK_API_KEY", KEY)
    monkeypatch.setenv("TICKDESK_API_SECRET", SECRET)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.integration.live_cli", str(shared_data),
         "run", "--venue", "live", "--symbols", "BTC/USDT", "--live-orders", "--yes-i-mean-it", "--auto",
         "--log-level", "DEBUG", "--duration", "120", "--config", str(config), "--db", str(db),
         "--summary-json", str(summary)],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # the run did what leaks: ccxt logged a signed order request with its key header
    order_requests = [line for line in proc.stderr.splitlines() if "POST" in line and "/api/v3/order" in line
                      and "Request:" in line]
    assert order_requests and all(f"'X-MBX-APIKEY': '{redact.MASK}'" in line for line in order_requests)
    assert json.loads(summary.read_text())["trades_opened"] >= 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM fills WHERE fill_model = 'exchange'").fetchone()[0] >= 1

    assert KEY not in proc.stdout + proc.stderr and SECRET not in proc.stdout + proc.stderr
    assert _files_holding(tmp_path, (KEY, SECRET)) == []  # ledger, WAL, summary, config
    assert _files_holding(isolated_home, (KEY, SECRET)) == []  # checkpoints, anything in the user dirs


@pytest.fixture
def masked(monkeypatch):
    """The masking installed for KEY and SECRET, and taken off again after the test."""
    factory = logging.getLogRecordFactory()
    monkeypatch.setattr(redact, "_installed", False)
    assert redact.install({"TICKDESK_API_KEY": KEY, "TICKDESK_API_SECRET": SECRET})
    yield
    logging.setLogRecordFactory(factory)
    redact.install({})


def test_every_part_of_a_log_record_is_masked(masked, caplog):
    log = logging.getLogger("ccxt.base.exchange")  # propagates to handlers it knows nothing of
    with caplog.at_level(logging.DEBUG):
        log.debug("%s %s, Request: %s %s", "POST", "http://x/api/v3/order", {"X-MBX-APIKEY": KEY}, "a=1")
        log.info(f"secret in the message itself: {SECRET}")
        try:
            raise RuntimeError(f"exchange said: bad key {KEY}")
        except RuntimeError:
            log.exception("order failed")
        log.warning("with a stack", stack_info=True, extra={"note": 1})
    text = "\n".join(logging.Formatter("%(message)s").format(r) for r in caplog.records)
    assert KEY not in text and SECRET not in text
    assert "'X-MBX-APIKEY': '<redacted>'" in text and "bad key <redacted>" in text
    assert "secret in the message itself: <redacted>" in text


def test_error_lines_of_the_command_line_are_masked(masked):
    assert redact.redact(f"run failed: AuthenticationError {KEY}/{SECRET}") == "run failed: AuthenticationError <redacted>/<redacted>"


def test_nothing_is_masked_without_credentials():
    assert redact.install({}) is False
    assert redact.redact("plain text") == "plain text"
