"""Number formatting shared by the panes: one place decides how a price or PnL looks.
Missing values render as an em dash, never as a made-up zero."""

from __future__ import annotations

from datetime import datetime, timezone

DASH = "—"


def price(v: float | None, digits: int = 2) -> str:
    return DASH if v is None else f"{v:,.{digits}f}"


def signed(v: float | None, digits: int = 2) -> str:
    return DASH if v is None else f"{v:+,.{digits}f}"


def pct(v: float | None, digits: int = 1) -> str:
    return DASH if v is None else f"{100 * v:.{digits}f}%"


def qty(v: float) -> str:
    return f"{v:.6g}"


def duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def event_time(ns: int) -> str:
    if ns <= 0:
        return DASH
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def sign_style(v: float | None) -> str:
    if v is None or v == 0:
        return ""
    return "green" if v > 0 else "red"


def clock(ts_s: float, timeframe: str = "1s") -> str:
    """A chart's time label: the part of the timestamp that changes at this timeframe."""
    form = {"1s": "%H:%M:%S", "1m": "%H:%M", "1h": "%d %H:%M", "1d": "%m-%d"}.get(timeframe, "%H:%M:%S")
    return datetime.fromtimestamp(ts_s, tz=timezone.utc).strftime(form)


def source_tag(source: str) -> str:
    """M manual, A auto (the models), R a risk rule; the help screen explains them."""
    return {"manual": "M", "auto": "A", "rule": "R"}.get(source, source[:1].upper() or "?")
