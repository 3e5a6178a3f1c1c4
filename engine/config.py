"""Typed, validated settings.

Precedence (later wins): the shipped `config.toml` beside the code, the user's config file
(`<user config dir>/tickdesk/config.toml`), `--config PATH`, then command-line options.
Unknown keys and bad values raise ConfigError naming the key, which the CLI turns into exit 2.
"""

from __future__ import annotations

import math
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SHIPPED_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
APP_NAME = "tickdesk"


class ConfigError(ValueError):
    """A bad or unknown setting; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VenueSettings(_Section):
    kind: Literal["sim", "replay", "live"] = "sim"
    symbols: tuple[str, ...] = ("ETH/USDT", "BTC/USDT")
    traded: str = "ETH/USDT"
    exchange: str = "binance"

    @field_validator("symbols")
    @classmethod
    def _symbols_ok(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("at least one symbol is needed")
        for s in v:
            base, sep, quote = s.partition("/")
            if not (sep and base and quote):
                raise ValueError(f"symbol {s!r} must look like BASE/QUOTE")
        if len(set(v)) != len(v):
            raise ValueError("symbols repeat")
        return v

    @model_validator(mode="after")
    def _traded_listed(self) -> "VenueSettings":
        if self.traded not in self.symbols:
            raise ValueError(f"traded symbol {self.traded!r} is not in symbols {list(self.symbols)}")
        return self

    @property
    def reference(self) -> tuple[str, ...]:
        return tuple(s for s in self.symbols if s != self.traded)


class SimSettings(_Section):
    seed: int = 1
    start: datetime = datetime.fromisoformat("2024-08-08T00:00:00+00:00")
    prices: dict[str, float] = Field(default_factory=lambda: {"ETH/USDT": 2600.0, "BTC/USDT": 60000.0})
    trades_per_s: float = Field(6.0, gt=0, le=1000)
    book_updates_per_s: float = Field(4.0, gt=0, le=100)
    book_levels: int = Field(20, ge=1, le=200)
    correlation: float = Field(0.8, ge=-1, le=1)
    annual_vol_calm: float = Field(0.45, gt=0, le=20)
    annual_vol_volatile: float = Field(1.6, gt=0, le=20)
    regime_switch_per_hour: float = Field(1.5, ge=0, le=3600)
    history_bars: int = Field(300, ge=0, le=5000)

    @field_validator("prices")
    @classmethod
    def _prices_ok(cls, v: dict[str, float]) -> dict[str, float]:
        for sym, p in v.items():
            if not (math.isfinite(p) and p > 0):
                raise ValueError(f"starting price for {sym} must be > 0, got {p}")
        return v


class EngineSettings(_Section):
    speed: str = "1"
    ui_hz: float = Field(10, gt=0, le=10)
    decision_interval_s: float = Field(1.0, gt=0, le=3600)
    stale_after_s: float = Field(10.0, gt=0)

    @field_validator("speed", mode="before")
    @classmethod
    def _speed_ok(cls, v: Any) -> str:
        from engine.core.clock import parse_speed

        parse_speed(str(v))
        return str(v)


class TradingSettings(_Section):
    quote_balance: float = Field(10000.0, gt=0)
    order_qty: dict[str, float] = Field(default_factory=lambda: {"ETH/USDT": 0.5, "BTC/USDT": 0.01})
    max_position_notional: float = Field(50000.0, gt=0)
    taker_fee: float = Field(0.0002, ge=0, lt=0.05)
    live_orders: bool = False

    @field_validator("order_qty")
    @classmethod
    def _qty_ok(cls, v: dict[str, float]) -> dict[str, float]:
        for sym, q in v.items():
            if not (math.isfinite(q) and q > 0):
                raise ValueError(f"order size for {sym} must be > 0, got {q}")
        return v


class RiskSettings(_Section):
    stop_loss_pct: float = Field(0.5, gt=0, le=100)
    take_profit_pct: float = Field(1.0, gt=0, le=1000)
    max_hold_s: float = Field(900.0, gt=0)


class ModelSettings(_Section):
    enabled: bool = True
    auto_trade: bool = False
    device: Literal["auto", "cpu", "cuda"] = "auto"
    confidence_threshold: float = Field(0.7, ge=0, le=1)
    base_weights: dict[Literal["cnn", "dqn", "cob_rl"], float] = Field(
        default_factory=lambda: {"cnn": 0.35, "dqn": 0.45, "cob_rl": 0.20}
    )
    checkpoint_dir: str = ""
    label_every_s: float = Field(15.0, gt=0)

    @field_validator("base_weights")
    @classmethod
    def _weights_ok(cls, v: dict[str, float]) -> dict[str, float]:
        if any(not (math.isfinite(w) and w >= 0) for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("base weights must be >= 0 with a positive sum")
        return v


class RewardSettings(_Section):
    preset: Literal["comprehensive", "normalised"] = "comprehensive"


class StorageSettings(_Section):
    db: str = ""


class Settings(_Section):
    venue: VenueSettings = VenueSettings()
    sim: SimSettings = SimSettings()
    engine: EngineSettings = EngineSettings()
    trading: TradingSettings = TradingSettings()
    risk: RiskSettings = RiskSettings()
    models: ModelSettings = ModelSettings()
    reward: RewardSettings = RewardSettings()
    storage: StorageSettings = StorageSettings()

    @property
    def db_path(self) -> Path:
        if self.storage.db:
            return Path(self.storage.db).expanduser()
        return Path(platformdirs.user_data_dir(APP_NAME)) / "tickdesk.db"

    @property
    def checkpoint_path(self) -> Path:
        if self.models.checkpoint_dir:
            return Path(self.models.checkpoint_dir).expanduser()
        return Path(platformdirs.user_data_dir(APP_NAME)) / "checkpoints"

    def order_qty_for(self, symbol: str) -> float:
        try:
            return self.trading.order_qty[symbol]
        except KeyError:
            raise ConfigError(f"trading.order_qty: no order size configured for {symbol}") from None


def user_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("prices", "order_qty", "base_weights"):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _format_error(exc: ValidationError, source: str) -> str:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{source}: {key}: {msg}{more}"


def load_settings(
    path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    use_user_config: bool = True,
) -> Settings:
    """Build Settings from the precedence chain; raise ConfigError with the offending key."""
    data = _read_toml(SHIPPED_CONFIG) if SHIPPED_CONFIG.exists() else {}
    sources = ["config.toml"]
    user = user_config_path()
    if use_user_config and user.exists():
        data = _merge(data, _read_toml(user))
        sources.append(str(user))
    if path is not None:
        data = _merge(data, _read_toml(Path(path)))
        sources.append(str(path))
    if overrides:
        data = _merge(data, overrides)
        sources.append("command line")
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, " + ".join(sources))) from None
