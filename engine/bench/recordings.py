"""The recorded market data the benchmarks run on, relative to engine.paths.recorded_data_dir().

The benchmarks own this list so their figures stay comparable across runs; tests keep their
own (tests/recorded.py) and may pick other files without moving a published figure.
"""

from __future__ import annotations

from pathlib import Path

# Binance spot WebSocket recordings (trades + L2 diff depth), 2024-08-08/09, about ten minutes
# per symbol over two consecutive files that replay as one stream.
WS_RECORDINGS: dict[str, tuple[str, ...]] = {
    "ETH/USDT": ("binance_ws_hftbacktest/spot_ethusdt_20240808.gz", "binance_ws_hftbacktest/spot_ethusdt_20240809.gz"),
    "BTC/USDT": ("binance_ws_hftbacktest/spot_btcusdt_20240808.gz", "binance_ws_hftbacktest/spot_btcusdt_20240809.gz"),
}
# 30 days of Bybit linear 1m klines per symbol, 2025-05-30 to 2025-06-29.
KLINES_1M: dict[str, str] = {
    "ETH/USDT": "bybit_klines_cobra0506/bybit_linear_ethusdt_1m_20250530-20250629.csv.gz",
    "BTC/USDT": "bybit_klines_cobra0506/bybit_linear_btcusdt_1m_20250530-20250629.csv.gz",
}


def ws_paths(root: Path) -> list[Path]:
    """Every WebSocket recording under `root`, symbol by symbol, each symbol's files in order."""
    return [root / f for files in WS_RECORDINGS.values() for f in files]
