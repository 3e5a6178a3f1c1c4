"""The composition root: assembles an Engine from settings (venue, executor, ledger path and,
when they can run, the models). Both front ends (TUI and headless) and the tests build
engines through here. It is the only module of the engine that imports `models` (lazily, so
`tickdesk --help` and the headless command without models never load PyTorch); everything
else sees the models only through `engine.decision.ports.Learner`."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

from engine.config import ConfigError, Settings
from engine.decision.ports import Learner
from engine.learning.controls import apply_controls, bind_clock
from engine.runtime.engine import Engine
from engine.runtime.workspace import data_detail, session_scope
from engine.trading.orders import Executor
from engine.venues.factory import make_venue

log = logging.getLogger("engine.runtime.wiring")


def make_trainer(settings: Settings, data_source: str, detail: str = "",
                 from_other_venue: bool = False) -> tuple[Learner | None, str]:
    """(trainer, status). Models that cannot run disable predictions, with the reason shown
    in the UI and the summary; nothing downstream ever sees a made-up output. Raises
    ConfigError only for checkpoints trained on another venue kind than `data_source`
    unless `from_other_venue` asks for them (a choice the user makes, never a fallback)."""
    if not settings.models.enabled:
        return None, "models disabled in config ([models] enabled = false)"
    try:
        from models.checkpoints import ForeignModels
        from models.errors import ModelsUnavailable
        from models.trainer import Trainer
    except ImportError as exc:
        return None, f"predictions disabled: cannot import the models ({exc})"
    try:
        trainer = Trainer(device=settings.models.device, checkpoint_dir=settings.checkpoint_path,
                          data_source=data_source, seed=settings.sim.seed, data_detail=detail,
                          allow_other_venue=from_other_venue,
                          cnn_labels_per_step=settings.models.cnn_labels_per_step)
        trainer.start()
        c = settings.learning
        trainer = apply_controls(trainer, training=c.training, control=c.control, train_until=c.train_until,
                                 seed=settings.sim.seed)
    except ForeignModels as exc:
        raise ConfigError(str(exc)) from None
    except (ModelsUnavailable, OSError, RuntimeError, ValueError) as exc:
        log.error("models unavailable: %s", exc)
        return None, f"predictions disabled: {exc}"
    return trainer, f"models ready on {trainer.device}"


def make_executor(settings: Settings) -> Executor | None:
    """The live executor when live orders are on (live venue only); None means paper."""
    if not settings.trading.live_orders:
        return None
    if settings.venue.kind != "live":
        raise ConfigError("live orders need --venue live (orders on a simulated or replayed market are paper)")
    from engine.trading.live import LiveExecutor, LiveOrderRouter, LiveOrdersError

    try:
        return LiveExecutor(LiveOrderRouter(settings.venue.exchange))
    except LiveOrdersError as exc:
        raise ConfigError(str(exc)) from None


def create_engine(
    settings: Settings,
    data: list[Path] | None = None,
    *,
    wall: Callable[[], float] = time.monotonic,
    models_from_other_venue: bool = False,
) -> Engine:
    """`models_from_other_venue`: load checkpoints trained on another venue kind."""
    venue = make_venue(settings, data)
    executor = make_executor(settings)
    scope = session_scope(settings, data)
    trainer, status = make_trainer(settings, venue.name, data_detail(settings, scope), models_from_other_venue)
    engine = Engine(settings, venue, db_path=settings.db_path, wall=wall, trainer=trainer, models_status=status,
                    executor=executor, scope=scope)
    bind_clock(trainer, engine.clock.now_ns)  # controls read days and train_until in event time
    return engine
