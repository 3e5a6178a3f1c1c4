"""Typed, validated settings.

`config.toml` (shipped beside the code, see engine/paths.py) is the one source of default
values: the models below declare types and bounds only, so a setting missing from the merged
files is an error, never a silent in-code default. Precedence (later wins): the shipped
`config.toml`, the user's config file (`<user config dir>/tickdesk/config.toml`),
`--config PATH`, then command-line options. Unknown keys and bad values raise ConfigError
naming the key, which the CLI turns into exit 2.
"""

from __future__ import annotations

import math
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine import paths
from engine.core.clock import parse_speed

# A per-symbol amount (a starting price, an order size): finite and > 0.
PerSymbolAmount = dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]]


class ConfigError(ValueError):
    """A bad or unknown setting; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VenueSettings(_Section):
    kind: Literal["sim", "replay", "live"]
    symbols: tuple[str, ...]
    traded: str
    exchange: str

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


class SimSettings(_Section):
    seed: int
    start: datetime
    prices: PerSymbolAmount
    trades_per_s: float = Field(gt=0, le=1000)
    book_updates_per_s: float = Field(gt=0, le=100)
    book_levels: int = Field(ge=1, le=200)
    correlation: float = Field(ge=-1, le=1)
    annual_vol_calm: float = Field(gt=0, le=20)
    annual_vol_volatile: float = Field(gt=0, le=20)
    regime_switch_per_hour: float = Field(ge=0, le=3600)
    history_bars: int = Field(ge=0, le=5000)
    edge: Literal["none", "momentum", "lead_lag", "imbalance"]
    # The correlation of the edge's signal with the return it predicts; below 1, where the
    # echo would replace the symbol's own noise entirely.
    edge_strength: float = Field(ge=0, le=0.95)
    lead_lag_s: float = Field(gt=0, le=3600)
    momentum_s: float = Field(gt=0, le=3600)
    imbalance_s: float = Field(gt=0, le=3600)


def _speed(value: Any) -> float | None:
    """TOML and the command line give text or a number; both are read as text, as typed."""
    return parse_speed(str(value))


class EngineSettings(_Section):
    # Parsed here, once: the event-time factor, or None for "max" (no pacing).
    speed: Annotated[float | None, BeforeValidator(_speed)]
    ui_hz: float = Field(gt=0, le=10)
    decision_interval_s: float = Field(gt=0, le=3600)
    stale_after_s: float = Field(gt=0)

    @property
    def speed_text(self) -> str:
        """The speed as the header shows it: `max`, or the factor (`1`, `20`, `0.5`)."""
        return "max" if self.speed is None else f"{self.speed:g}"


class TradingSettings(_Section):
    quote_balance: float = Field(gt=0)
    order_qty: PerSymbolAmount
    max_position_notional: float = Field(gt=0)
    taker_fee: float = Field(ge=0, lt=0.05)
    bar_spread_bp: float = Field(ge=0, le=500)  # stated spread for fills on bars (no book), in bp
    live_orders: bool


class RiskSettings(_Section):
    stop_loss_pct: float = Field(gt=0, le=100)
    take_profit_pct: float = Field(gt=0, le=1000)
    max_hold_s: float = Field(gt=0)


class ModelSettings(_Section):
    enabled: bool
    auto_trade: bool
    device: Literal["auto", "cpu", "cuda"]
    confidence_threshold: float = Field(ge=0, le=1)
    base_weights: dict[Literal["cnn", "dqn", "cob_rl"], float]
    checkpoint_dir: str
    label_every_s: float = Field(gt=0)
    label_batch_max: int = Field(ge=1, le=1024)
    label_queue_max: int = Field(ge=1)
    trade_horizon: Literal["1m", "5m", "15m"]
    cnn_labels_per_step: int = Field(ge=1, le=32)
    calibration_window: int = Field(ge=10)
    calibration_refit_every: int = Field(ge=1)
    calibration_min_pairs: int = Field(ge=10)
    explore_per_hour_start: float = Field(ge=0)
    explore_per_hour_floor: float = Field(ge=0)
    explore_half_life_labels: float = Field(ge=0)

    @field_validator("base_weights")
    @classmethod
    def _weights_ok(cls, v: dict[str, float]) -> dict[str, float]:
        if any(not (math.isfinite(w) and w >= 0) for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("base weights must be >= 0 with a positive sum")
        return v


class LearningSettings(_Section):
    training: Literal["on", "off"]
    control: Literal["none", "shuffled"]
    train_until: str

    @field_validator("train_until")
    @classmethod
    def _until_ok(cls, v: str) -> str:
        if v:
            datetime.fromisoformat(v.replace("Z", "+00:00"))  # ValueError names the key
        return v


class EvaluationSettings(_Section):
    folds: int = Field(ge=1, le=100)
    train_days: float = Field(gt=0, le=3650)
    test_days: int = Field(ge=1, le=3650)
    embargo_min: float = Field(ge=0)
    seeds: int = Field(ge=1, le=100)


class RewardSettings(_Section):
    preset: Literal["comprehensive", "normalised"]


class StorageSettings(_Section):
    workspace: str
    db: str
    # Decisions older than this (event time) that no position, fill, label or stored state
    # needs are pruned; longer than the longest label horizon (15 min), so none in flight goes.
    decision_retention_s: float = Field(ge=3600)
    prune_every: int = Field(ge=1)


class SanitySettings(_Section):
    """Limits of the sanity band (engine/market/sanity.py): what no real market prints."""

    min_price: float = Field(gt=0, allow_inf_nan=False)
    max_price: float = Field(gt=0, allow_inf_nan=False)
    max_price_ratio: float = Field(gt=1, allow_inf_nan=False)
    band_interval_s: float = Field(gt=0, allow_inf_nan=False)
    reanchor_after: int = Field(ge=2, le=1000)
    min_qty: float = Field(gt=0, allow_inf_nan=False)
    max_notional: float = Field(gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _range_ok(self) -> "SanitySettings":
        if self.min_price >= self.max_price:
            raise ValueError("min_price must be below max_price")
        return self


class Settings(_Section):
    venue: VenueSettings
    sim: SimSettings
    engine: EngineSettings
    trading: TradingSettings
    risk: RiskSettings
    models: ModelSettings
    learning: LearningSettings
    evaluation: EvaluationSettings
    reward: RewardSettings
    storage: StorageSettings
    sanity: SanitySettings

    @property
    def layout(self) -> paths.WorkspaceLayout:
        return paths.workspace_layout(self.storage.workspace, self.storage.db)

    @property
    def db_path(self) -> Path:
        return self.layout.ledger

    @property
    def checkpoint_path(self) -> Path | None:
        """`[models] checkpoint_dir` when set, else the models beside the ledger (None: kept nowhere)."""
        return Path(self.models.checkpoint_dir).expanduser() if self.models.checkpoint_dir else self.layout.models

    def order_qty_for(self, symbol: str) -> float:
        try:
            return self.trading.order_qty[symbol]
        except KeyError:
            raise ConfigError(f"trading.order_qty: no order size configured for {symbol}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge, except that per-symbol and per-model tables are replaced whole."""
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
    shipped = paths.shipped_config()
    data = _read_toml(shipped)
    sources = [shipped.name]
    user = paths.user_config()
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
