"""check_levels: diffs (checked as Python floats) and snapshots (numpy) refuse a level by the
same rule and reason, and the first rule broken decides the reason."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.events import InvalidEvent, check_levels

VALUES = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1e-9, 1.0, 2.5, 1e308])
ROWS = st.lists(st.tuples(VALUES, VALUES), min_size=1, max_size=8)


def reason(levels: np.ndarray) -> str:
    try:
        check_levels(levels)
    except InvalidEvent as exc:
        return exc.reason
    return "ok"


@settings(max_examples=300, deadline=None)
@given(ROWS)
def test_a_diff_and_a_snapshot_of_the_same_levels_get_the_same_verdict(rows):
    small = np.array(rows, dtype=np.float64)
    large = np.tile(small, (200 // len(small) + 1, 1))  # past the diff size: the numpy path
    assert len(large) > 64
    assert reason(small) == reason(large)


@pytest.mark.parametrize("rows, expected", [
    ([(100.0, 1.0), (99.0, 0.0)], "ok"),
    ([(100.0, np.nan)], "non_finite_price"),
    ([(0.0, 1.0), (1.0, np.inf)], "non_finite_price"),  # finiteness is checked first
    ([(-1.0, -1.0)], "non_positive_price"),  # then price, then qty
    ([(1.0, -0.5)], "bad_qty"),
])
def test_reasons(rows, expected):
    levels = np.array(rows, dtype=np.float64)
    assert reason(levels) == expected
    assert reason(np.tile(levels, (70, 1))) == expected


def test_shape_and_empty():
    assert check_levels(np.empty((0, 2))).size == 0
    with pytest.raises(InvalidEvent, match="shape"):
        check_levels(np.ones((3, 3)))
