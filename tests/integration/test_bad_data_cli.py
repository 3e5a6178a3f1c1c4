"""Bad input through the command line: empty or header-only data and corrupt ledgers are
refused at the start (exit 2, one line naming the file); a replay with bad lines injected
keeps every good event and counts every bad one in the summary JSON."""

from __future__ import annotations

import asyncio
import gzip
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from tests.engine.venues.faults import DEPTH, TRADE, edit, field_of, indexes, read_lines, spread, write_lines
from tests.integration.test_headless import cli
from tests.recorded import WS_DAY1

NO_MODELS = "[models]\nenabled = false\n"


def _one_line_error(proc, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("tickdesk: error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert all(n in errors[0] for n in needles), errors[0]


def _zip_with(path: Path, inner: str, text: str) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(inner, text)
    return path


@pytest.mark.parametrize("name, make, why", [
    ("ETHUSDT-1m-2024-01-01.csv", lambda p: p.write_text("open_time_ms,open,high,low,close,volume\n"), "only a header"),
    ("ETHUSDT-1m-2024-01-02.csv", lambda p: p.write_text(""), "empty"),
    ("ETHUSDT-1m-2024-01-03.zip", lambda p: _zip_with(p, "ETHUSDT-1m-2024-01-03.csv", ""), "empty"),
    ("ETHUSDT-1m-2024-01-04.csv.gz", lambda p: p.write_bytes(gzip.compress(b"open_time,open,high,low,close,volume\n")),
     "only a header"),
    ("spot_ethusdt_20240105.gz", lambda p: p.write_bytes(gzip.compress(b"")), "empty"),
    ("spot_ethusdt_20240106.gz", lambda p: p.write_bytes(b""), "empty"),
    ("ETHUSDT-1m-2024-01-07.csv", lambda p: p.write_text("open_time_ms,open,high,low,close\n1700000000000,1,2,0.5,1.5\n"),
     "lacks a time column or ['volume']"),
    ("ETHUSDT-1m-2024-01-08.csv", lambda p: p.write_text("open_time_ms,open,high,low,close,volume\nx,1,2,3,4,5\n"),
     "every row was refused"),
])
def test_empty_or_header_only_data_is_refused_naming_the_file(tmp_path, name, make, why):
    data = tmp_path / name
    make(data)
    proc = cli("run", "--venue", "replay", "--data", str(data), "--symbols", "ETH/USDT", "--speed", "max",
               "--db", str(tmp_path / "l.db"))
    _one_line_error(proc, name, why)
    assert not (tmp_path / "l.db").exists()  # refused before anything was written


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-5"])
def test_a_duration_that_is_not_a_finite_positive_number_is_refused(tmp_path, value):
    proc = cli("run", "--venue", "sim", "--duration", value, "--speed", "max", "--db", str(tmp_path / "l.db"))
    _one_line_error(proc, "--duration")
    assert not (tmp_path / "l.db").exists()


def _ledger_with_a_trade(path: Path) -> None:
    from engine.core.enums import Side
    from tests.helpers import run_round_trip, sim_engine

    asyncio.run(run_round_trip(sim_engine(str(path)), Side.BUY))


def _damage_page(path: Path, table: str) -> None:
    """Overwrite the root page of `table` with noise, as a torn write or bad sector would."""
    with sqlite3.connect(path) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    raw = bytearray(path.read_bytes())
    raw[(root - 1) * page_size: root * page_size] = bytes((i * 151 + 7) % 256 for i in range(page_size))
    path.write_bytes(bytes(raw))


def test_a_ledger_with_corrupt_pages_is_refused_on_open(tmp_path):
    db = tmp_path / "t.db"
    _ledger_with_a_trade(db)
    assert json.loads(cli("trades", "--json", "--db", str(db)).stdout)  # readable before
    _damage_page(db, "closed_trades")
    before = db.read_bytes()
    _one_line_error(cli("trades", "--json", "--db", str(db)), str(db), "corrupt", "quick_check")
    config = tmp_path / "c.toml"
    config.write_text(NO_MODELS)
    _one_line_error(cli("run", "--venue", "sim", "--duration", "60", "--speed", "max", "--config", str(config),
                        "--db", str(db)), str(db), "corrupt")
    assert db.read_bytes() == before  # nothing was written to it


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    db = tmp_path / "t.db"
    db.write_bytes(b"this is not an sqlite file, just text\n" * 200)
    _one_line_error(cli("trades", "--json", "--db", str(db)), str(db), "not a usable tickdesk ledger")


def test_replay_with_every_fault_keeps_good_events_and_counts_bad_ones(tmp_path, shared_data):
    """All the injected faults at once through `tickdesk run`: the summary's rejected_reasons
    name each, and the event count is the clean copy's less exactly the bad lines."""
    lines = read_lines(shared_data / WS_DAY1["ETH/USDT"], 20_000)
    (tmp_path / "clean").mkdir()
    clean = write_lines(tmp_path / "clean" / "spot_ethusdt_20240808.gz", lines)
    trades, diffs = indexes(lines, TRADE), indexes(lines, DEPTH)
    t = spread(trades, 12)
    d = spread(diffs, 6)
    bad = list(lines)
    # edits in place first (indexes stay valid), then the inserts and the removal, from the end
    for i in t[1:3]:
        bad[i] = edit(bad[i], p="1e300")
    for i in t[3:5]:
        bad[i] = edit(bad[i], q="1e-300")
    bad[t[5]] = edit(bad[t[5]], q="1e300")
    bad[t[6]] = edit(bad[t[6]], p="1e-300")
    bad[t[7]] = edit(bad[t[7]], p=f"{float(field_of(bad[t[7]], 'p')) * 10:.2f}")
    last_trade = max(i for i in trades if i < d[1])
    above_the_ask = f"{float(field_of(bad[last_trade], 'p')) * 1.01:.2f}"  # 1% over the last trade
    bad[d[1]] = edit(bad[d[1]], b=field_of(bad[d[1]], "b") + [[above_the_ask, "1.0"]])
    bad[d[2]] = edit(bad[d[2]], a=field_of(bad[d[2]], "a") + [["1e300", "1.0"]])
    for i in sorted([t[0], t[8], d[0], d[3], d[4]], reverse=True):
        if i == d[4]:
            del bad[i]  # a missing diff
        elif i in (d[0], d[3]):
            bad.insert(i + 1, bad[i])  # a duplicated diff
        else:
            bad.insert(i + 1, edit(bad[i], t=10**15 + i))  # a bogus trade id
    (tmp_path / "faulty").mkdir()
    faulty = write_lines(tmp_path / "faulty" / "spot_ethusdt_20240808.gz", bad)

    config = tmp_path / "c.toml"
    config.write_text(NO_MODELS)

    def run(data: Path) -> dict:
        out = tmp_path / f"{data.parent.name}.json"
        proc = cli("run", "--venue", "replay", "--data", str(data), "--symbols", "ETH/USDT", "--speed", "max",
                   "--config", str(config), "--db", str(tmp_path / f"{data.parent.name}.db"), "--summary-json", str(out))
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(out.read_text())

    base, got = run(clean), run(faulty)
    assert (base["events"], base["rejected_events"]) == (5_323, 0)
    expected = {"bad_trade_id": 2, "price_out_of_range": 4, "size_out_of_range": 3, "price_out_of_band": 1,
                "crossed_book": 1, "stale_diff": 2, "sequence_gap": 1}
    assert got["rejected_reasons"] == expected and got["rejected_events"] == sum(expected.values())
    # the clean copy's events less the 7 trades made bad and the missing diff: the crossed and
    # the 1e300 diffs are applied without their bad level; the copies (bogus ids, duplicated
    # diffs) are dropped
    assert got["events"] == base["events"] - 7 - 1
    assert 2_000 < got["per_symbol"]["ETH/USDT"]["last_price"] < 3_000
