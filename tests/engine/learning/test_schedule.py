"""The training mode and the lag it is judged by: which runs train in lockstep with the data
(engine/learning/schedule.py), and the event-time lag statistics the summary and the model
pane show (engine/learning/lag.py)."""

import pytest

from engine.core.units import NS_PER_S
from engine.learning.lag import TrainingLag
from engine.learning.schedule import real_time_training


@pytest.mark.parametrize(("venue", "speed", "real_time"), [
    ("live", 1.0, True), ("live", None, True), ("live", 20.0, True),   # the market never waits
    ("sim", 1.0, True), ("replay", 1.0, True),                          # paced like the wall clock
    ("sim", None, False), ("replay", None, False),                      # --speed max
    ("sim", 20.0, False), ("replay", 0.5, False),                       # any other factor
])
def test_only_live_and_exactly_real_time_speed_train_beside_the_market(venue, speed, real_time) -> None:
    assert real_time_training(venue, speed) is real_time


def test_lag_is_completion_minus_maturity_in_event_seconds() -> None:
    lag = TrainingLag()
    assert lag.summary() == {"count": 0, "p50": None, "max": None}, "no samples: no made-up zero"
    t0 = 1_723_075_200 * NS_PER_S
    for matured_s, done_s in ((0, 0), (10, 12), (20, 20), (30, 95)):
        lag.record(t0 + matured_s * NS_PER_S, t0 + done_s * NS_PER_S)
    assert lag.summary() == {"count": 4, "p50": 1.0, "max": 65.0}   # lags 0, 2, 0, 65 s
    lag.record(t0, t0 + 3 * NS_PER_S)
    assert lag.p50_s == 2.0 and lag.count == 5, "the cached median follows new samples"
