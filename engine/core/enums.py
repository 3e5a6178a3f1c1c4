"""The closed vocabularies of the engine: sides, feed states, order sources, model names.

They are `StrEnum`s so that they compare equal to, and serialise as, the plain strings the
ledger, the summary JSON and `trades --json` already use; a misspelt member fails at import
instead of silently never matching at run time. Display labels live here too, so the TUI,
the logs and the reports name a model the same way.
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY


class FeedState(StrEnum):
    """Where the market feed stands. Venues announce most of these; the market state sets
    STREAMING once data flows from a venue that announces nothing, the engine sets
    STOPPED or ENDED when its loop leaves."""

    STARTING = "starting"
    CONNECTED = "connected"
    STREAMING = "streaming"
    RECOVERED = "recovered"
    STALE = "stale"
    RECONNECTING = "reconnecting"
    GAP = "gap"
    ENDED = "ended"
    STOPPED = "stopped"

    @property
    def healthy(self) -> bool:
        """Auto-trading pauses while the feed is starting, stale, reconnecting or has a gap."""
        return self not in (FeedState.STARTING, FeedState.STALE, FeedState.RECONNECTING, FeedState.GAP)


class Action(StrEnum):
    """What a decision chose: open a side, stay as it is (flat or holding), or close."""

    BUY = "buy"
    SELL = "sell"
    HOLD = "hold"
    EXIT = "exit"

    @property
    def side(self) -> Side | None:
        return Side(self.value) if self in (Action.BUY, Action.SELL) else None


class Policy(StrEnum):
    """How a decision's action was chosen: the models' best (greedy), or a paper-trading
    exploration draw. Statistics of the models' edge count greedy decisions only."""

    GREEDY = "greedy"
    EXPLORE = "explore"


class Source(StrEnum):
    """Who opened or closed a position: the trader, the models (greedy), an exploration
    draw on paper, or a risk rule."""

    MANUAL = "manual"
    AUTO = "auto"
    EXPLORE = "explore"
    RULE = "rule"


class ModelName(StrEnum):
    CNN = "cnn"
    DQN = "dqn"
    COB_RL = "cob_rl"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {ModelName.CNN: "CNN", ModelName.DQN: "DQN", ModelName.COB_RL: "COB"}
MODELS: tuple[ModelName, ...] = tuple(ModelName)
