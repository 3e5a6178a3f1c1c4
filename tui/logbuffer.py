"""The log pane's source: engine and model log records (risk closes, refusals, reconnects,
checkpoint loads with their provenance) kept in a bounded buffer with the event time they
happened at. A logging.Handler, so the engine needs no change to feed it."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

LOGGERS = ("engine", "models", "storage", "tui")
KEEP = 2000


@dataclass(frozen=True, slots=True)
class LogLine:
    event_ns: int
    level: str
    source: str
    text: str


class LogBuffer(logging.Handler):
    def __init__(self, event_ns: Callable[[], int] | None = None) -> None:
        """`event_ns` stamps each line with event time; until the app sets it (lines logged
        while the engine is built), lines carry 0 and show a dash."""
        super().__init__(level=logging.INFO)
        self.lines: deque[LogLine] = deque(maxlen=KEEP)
        self.version = 0
        self.event_ns: Callable[[], int] = event_ns or (lambda: 0)
        self._attached: list[tuple[logging.Logger, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a bad format string must not break logging
            text = str(record.msg)
        self.lines.append(LogLine(self.event_ns(), record.levelname, record.name, text))
        self.version += 1

    @classmethod
    def attached(cls) -> "LogBuffer":
        """A buffer already listening (the CLI makes one before it builds the engine)."""
        buffer = cls()
        buffer.attach()
        return buffer

    def attach(self) -> None:
        if self._attached:
            return
        for name in LOGGERS:
            logger = logging.getLogger(name)
            self._attached.append((logger, logger.level))
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)
            logger.addHandler(self)

    def detach(self) -> None:
        for logger, level in self._attached:
            logger.removeHandler(self)
            logger.setLevel(level)
        self._attached = []

    def newest_first(self, needle: str = "") -> list[LogLine]:
        needle = needle.lower()
        return [ln for ln in reversed(self.lines) if not needle or needle in ln.text.lower()
                or needle in ln.source.lower() or needle in ln.level.lower()]
