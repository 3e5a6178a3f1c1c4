"""Symbol names as exchanges and data files spell them, turned into ccxt's `BASE/QUOTE`.

Binance stream names (`ethusdt`), Bybit and Binance file names (`bybit_linear_ethusdt_1m_...`,
`ETHUSDT-1m-...`) and the recorder's own files all glue base and quote together, so the split
is found by the quote asset that ends the name, from a fixed list.
"""

from __future__ import annotations

import re
from pathlib import Path

# Tried in order, so a quote that ends another (USD ends FDUSD, BUSD, TUSD) comes after it.
QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR", "TRY", "DAI")
_NAME_TOKENS = re.compile(r"[-_.\s]+")


def binance_to_ccxt(raw: str) -> str | None:
    """`ETHUSDT` / `ethusdt` -> `ETH/USDT`; None when no known quote asset ends the name."""
    name = raw.upper()
    for quote in QUOTES:
        if name.endswith(quote) and len(name) > len(quote) and name[: -len(quote)].isalnum():
            return f"{name[: -len(quote)]}/{quote}"
    return None


def ccxt_to_stream(symbol: str) -> str:
    """`ETH/USDT` (or `ETH/USDT:USDT`) -> `ethusdt`, the Binance stream-name form."""
    return symbol.partition(":")[0].replace("/", "").lower()


def name_tokens(path: Path) -> list[str]:
    """A data file's name split at `-`, `_`, `.` and spaces: where names carry symbol and timeframe."""
    return _NAME_TOKENS.split(path.name)


def symbol_from_name(path: Path) -> str | None:
    """`ETHUSDT-1m-2022-08-14.zip` / `bybit_linear_ethusdt_1m_...` -> `ETH/USDT`: the first
    all-letter token of the file name that ends in a known quote asset."""
    for token in name_tokens(path):
        if token.isalpha() and (sym := binance_to_ccxt(token)):
            return sym
    return None
