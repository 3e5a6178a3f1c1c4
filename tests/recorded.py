"""The recorded market files the tests replay, relative to the `shared_data` fixture's folder.

The tests' own list: a benchmark may change its files without changing what a test checks.
"""

# The first day of Binance spot WebSocket recordings (trades + L2 diff depth), 2024-08-08.
WS_DAY1 = {
    "ETH/USDT": "binance_ws_hftbacktest/spot_ethusdt_20240808.gz",
    "BTC/USDT": "binance_ws_hftbacktest/spot_btcusdt_20240808.gz",
}
# 30 days of Bybit linear 1m klines, 2025-05-30 to 2025-06-29.
KLINES_1M = {
    "ETH/USDT": "bybit_klines_cobra0506/bybit_linear_ethusdt_1m_20250530-20250629.csv.gz",
    "BTC/USDT": "bybit_klines_cobra0506/bybit_linear_btcusdt_1m_20250530-20250629.csv.gz",
}
