"""Bar files: Binance kline zips with and without a header, Bybit CSVs, name/spacing detection."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from engine.core.events import RejectCounter
from engine.core.units import NS_PER_S
from engine.venues.klines import read_bars, timeframe_from_name


@pytest.mark.parametrize(
    "name, symbol, tf, rows, first_open_ms, first_close",
    [
        ("ETHUSDT-1m-2022-08-14.zip", "ETH/USDT", "1m", 1440, 1660435200000, 1982.29),  # no header
        ("BTCUSDT-1m-2022-09-05.zip", "BTC/USDT", "1m", 1440, 1662336000000, 19996.8),  # header
        ("ETHUSDT-1h-2022-08-24.zip", "ETH/USDT", "1h", 24, 1661299200000, None),  # header
        ("BTCUSDT-1h-2022-09-07.zip", "BTC/USDT", "1h", 24, 1662508800000, 18833.11),  # no header
    ],
)
def test_binance_zips_with_and_without_header(shared_data, name, symbol, tf, rows, first_open_ms, first_close):
    rejected = RejectCounter()
    bars = list(read_bars(shared_data / "binance_klines_lti" / name, rejected=rejected))
    assert len(bars) == rows and rejected.total == 0
    assert {(b.symbol, b.timeframe) for b in bars} == {(symbol, tf)}
    assert bars[0].ts_ns == first_open_ms * 1_000_000
    if first_close is not None:
        assert bars[0].close == first_close
    step = bars[1].ts_ns - bars[0].ts_ns
    assert all(b.ts_ns - a.ts_ns == step for a, b in zip(bars, bars[1:]))


def test_bybit_csv_by_header_names(shared_data):
    path = shared_data / "bybit_klines_cobra0506" / "bybit_linear_ethusdt_1m_20250530-20250629.csv.gz"
    with gzip.open(path, "rt") as fh:
        header = fh.readline().strip().split(",")
        first = dict(zip(header, fh.readline().strip().split(",")))
    bars = list(read_bars(path))
    assert len(bars) == 43_200
    b = bars[0]
    assert (b.symbol, b.timeframe, b.ts_ns) == ("ETH/USDT", "1m", int(first["open_time_ms"]) * 1_000_000)
    assert (b.open, b.high, b.low, b.close, b.volume) == tuple(float(first[k]) for k in ("open", "high", "low", "close", "volume"))


def test_timeframe_from_spacing_microseconds_and_bad_rows(tmp_path: Path):
    path = tmp_path / "mydata.csv"
    t0_us = 1_700_000_000_000_000  # newer Binance files use microseconds
    rows = [f"{t0_us + i * 3_600_000_000},10,12,9,11,5" for i in range(4)]
    rows.insert(2, "garbage,row")
    rows.append(f"{t0_us + 9 * 3_600_000_000},10,12,9,nan,5")
    rows.append(f"{t0_us + 10 * 3_600_000_000},10,9,11,10,5")  # high below low
    path.write_text("open_time,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    rejected = RejectCounter()
    bars = list(read_bars(path, symbol="SOL/USDT", rejected=rejected))
    assert [b.timeframe for b in bars] == ["1h"] * 4
    assert bars[0].ts_ns == 1_700_000_000 * NS_PER_S
    assert rejected.by_reason == {"malformed": 1, "non_finite_price": 1, "inconsistent_bar": 1}


def test_unsupported_timeframe_and_unknown_symbol_are_clear_errors(shared_data, tmp_path: Path):
    with pytest.raises(ValueError, match="5m"):
        list(read_bars(shared_data / "bybit_klines_cobra0506" / "bybit_linear_ethusdt_5m_20250403-20250702.csv.gz"))
    nameless = tmp_path / "bars.csv"
    nameless.write_text("1700000000000,1,1,1,1,1\n")
    with pytest.raises(ValueError, match="symbol"):
        list(read_bars(nameless))


def test_timeframe_from_name():
    assert timeframe_from_name(Path("ETHUSDT-1h-2022-08-24.zip")) == "1h"
    assert timeframe_from_name(Path("mydata.csv")) is None
