"""Symbol names from stream and file names, and back to the stream form."""

from pathlib import Path

from engine.venues.symbols import binance_to_ccxt, ccxt_to_stream, symbol_from_name


def test_binance_names():
    assert binance_to_ccxt("ethusdt") == "ETH/USDT"
    assert binance_to_ccxt("BTCFDUSD") == "BTC/FDUSD"
    assert binance_to_ccxt("ADABTC") == "ADA/BTC"
    assert binance_to_ccxt("binance") is None


def test_file_names():
    assert symbol_from_name(Path("bybit_linear_ethusdt_1m_20250530-20250629.csv.gz")) == "ETH/USDT"
    assert symbol_from_name(Path("BTCUSD_PERP-1m-2022-10-24.zip")) == "BTC/USD"
    assert symbol_from_name(Path("binance_ethusdt_20240808-235414.gz")) == "ETH/USDT"
    assert symbol_from_name(Path("mydata.csv")) is None


def test_stream_form_round_trips():
    assert ccxt_to_stream("ETH/USDT") == "ethusdt"
    assert ccxt_to_stream("ETH/USDT:USDT") == "ethusdt"
    assert binance_to_ccxt(ccxt_to_stream("BTC/FDUSD")) == "BTC/FDUSD"
