"""OHLCV bar files -> BarEvents: Binance kline zips/CSVs and plain OHLCV CSVs (gzip or not).

Binance public-data klines have 12 columns and sometimes a header row, sometimes not, so the
header is detected from the first row. Other CSVs are read by header names (`open_time_ms` or
`open_time`/`timestamp`, then open, high, low, close, volume), so extra columns such as Bybit's
`timestamp` do not matter. Open times may be in s, ms or µs (newer Binance files); the unit is
inferred from the magnitude. Symbol and timeframe come from the file name unless given; the
timeframe otherwise from the spacing of the open times.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zipfile
from itertools import chain, islice
from pathlib import Path
from typing import Iterator

from engine.core.events import BarEvent, InvalidEvent, RejectCounter
from engine.core.units import NS_PER_S, TIMEFRAME_NS
from engine.venues.symbols import name_tokens, symbol_from_name

_TF_TOKEN = re.compile(r"^\d+[smhdw]$")
_TIME_COLUMNS = ("open_time_ms", "open_time", "timestamp_ms", "timestamp")
_PRICE_COLUMNS = ("open", "high", "low", "close", "volume")


def timeframe_from_name(path: Path) -> str | None:
    """`ETHUSDT-1m-...` -> `1m` (any `<n><unit>` token; validated against the engine's later)."""
    for token in name_tokens(path):
        if _TF_TOKEN.match(token):
            return token
    return None


def timeframe_from_spacing(open_times_ns: list[int]) -> str | None:
    """The engine timeframe whose length equals the smallest gap between consecutive open times."""
    gaps = [b - a for a, b in zip(open_times_ns, open_times_ns[1:]) if b > a]
    if not gaps:
        return None
    step = min(gaps)
    return next((tf for tf, ns in TIMEFRAME_NS.items() if ns == step), None)


def _to_ns(raw: str) -> int:
    """Epoch time in s, ms or µs (by magnitude) -> ns."""
    value = int(float(raw))
    if value >= 10**14:
        return value * 1_000
    if value >= 10**11:
        return value * 1_000_000
    return value * NS_PER_S


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".zip":
        zf = zipfile.ZipFile(path)
        names = [n for n in zf.namelist() if n.lower().endswith(".csv")]
        if len(names) != 1:
            raise ValueError(f"{path.name}: expected one CSV inside the zip, found {names}")
        return io.TextIOWrapper(zf.open(names[0]), encoding="utf-8")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _columns(first: list[str], path: Path) -> tuple[tuple[int, ...], bool]:
    """Column indexes of (time, open, high, low, close, volume) and whether row 1 is a header."""
    if _is_number(first[0]):
        if len(first) < 6:
            raise ValueError(f"{path.name}: {len(first)} columns, need at least 6")
        return (0, 1, 2, 3, 4, 5), False
    names = [c.strip().lower() for c in first]
    time_col = next((names.index(c) for c in _TIME_COLUMNS if c in names), None)
    missing = [c for c in _PRICE_COLUMNS if c not in names]
    if time_col is None or missing:
        raise ValueError(f"{path.name}: header {first} lacks a time column or {missing}")
    return (time_col, *(names.index(c) for c in _PRICE_COLUMNS)), True


def read_bars(
    path: Path,
    symbol: str | None = None,
    timeframe: str | None = None,
    rejected: RejectCounter | None = None,
) -> Iterator[BarEvent]:
    """Bars of one file, oldest first. Bad rows are counted in `rejected` and skipped.

    Raises ValueError (naming the file) when symbol, timeframe or columns cannot be determined,
    or the timeframe is not one the engine keeps (1s, 1m, 1h, 1d).
    """
    rejected = rejected if rejected is not None else RejectCounter()
    symbol = symbol or symbol_from_name(path)
    if symbol is None:
        raise ValueError(f"{path.name}: no symbol in the file name; pass it explicitly")
    with _open_text(path) as fh:
        rows = csv.reader(fh)
        first = next(rows, None)
        if first is None:
            return
        cols, has_header = _columns(first, path)
        if not has_header:
            rows = chain([first], rows)
        head = list(islice(rows, 64))
        tf = timeframe or timeframe_from_name(path) or timeframe_from_spacing(_head_times(head, cols[0]))
        if tf not in TIMEFRAME_NS:
            raise ValueError(f"{path.name}: timeframe {tf!r} is not one of {list(TIMEFRAME_NS)}")
        last_ns = None
        for row in chain(head, rows):
            try:
                ts = _to_ns(row[cols[0]])
                o, h, l, c, v = (float(row[i]) for i in cols[1:])
                bar = BarEvent(ts, symbol, tf, o, h, l, c, v).validate()
            except InvalidEvent as exc:
                rejected.add(exc.reason)
                continue
            except (ValueError, IndexError):
                rejected.add("malformed")
                continue
            if last_ns is not None and ts <= last_ns:
                rejected.add("out_of_order")
                continue
            last_ns = ts
            yield bar


def check_bar_file(path: Path, symbol: str) -> None:
    """Read a bar file up to its first good bar, so that what would end a replay later fails
    now, naming the file: unreadable, empty or header-only, unknown columns or timeframe, or
    no row usable at all. Raises ValueError."""
    rejected = RejectCounter()
    try:
        first = next(read_bars(path, symbol, rejected=rejected), None)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path.name}: unreadable ({type(exc).__name__}: {exc})") from None
    if first is None:
        why = f"every row was refused ({dict(rejected.by_reason)})" if rejected.total else "it is empty or only a header"
        raise ValueError(f"{path.name}: no bars: {why}")


def _head_times(rows: list[list[str]], col: int) -> list[int]:
    out = []
    for row in rows:
        try:
            out.append(_to_ns(row[col]))
        except (ValueError, IndexError):
            continue
    return out


def is_bar_file(path: Path) -> bool:
    """Kline zips and CSVs (by extension); the content is checked when read."""
    name = path.name.lower()
    return name.endswith((".zip", ".csv", ".csv.gz"))
