"""The desk's projections and the panes' arithmetic, without an app: why auto is not
trading, per-model calls from a signal, the loss plot's range and ticks, the speed ladder,
reward lines that wrap instead of being cut, the evaluation file's rendering, export."""

from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import pytest

from engine.core.clock import EventClock
from engine.core.enums import FeedState
from engine.market.state import MarketState
from engine.views.desk import auto_blocker, model_calls
from engine.views.evaluation_file import latest_evaluation_path
from engine.views.stats import TradeOutcome, win_stats
from engine.views.trades_export import export_path, write_trades
from tests.helpers import sim_settings
from tui.actions import next_speed
from tui.screens.evaluation import load_evaluation, render_evaluation
from tui.widgets.learning import component_cells, loss_range, step_ticks

OUTPUTS = {
    "cnn": {"horizon": "1m", "p_down": 0.21, "p_flat": 0.18, "p_up": 0.61},
    "dqn": {"q": [0.057, -0.378]},
    "cob_rl": {"logits": [-0.25, 0.11], "value": 0.122},
}


def source(**over):
    """What auto_blocker reads from an engine, with a healthy default that would trade."""
    settings = sim_settings(models={"confidence_threshold": 0.5})
    market = MarketState(("ETH/USDT", "BTC/USDT"), EventClock())
    market.announce(FeedState.CONNECTED)
    base = dict(settings=settings, market=market, traded="ETH/USDT", auto=True, policy=object(), messages=[],
                first_event_ns=1)
    base.update(over)
    return SimpleNamespace(**base)


@pytest.mark.parametrize("over, p_win, expected", [
    ({"policy": None}, 0.9, "no models"),
    ({"auto": False}, 0.9, "auto is off"),
    ({"first_event_ns": None}, 0.9, "warming up: no market event"),
    ({}, None, "calibrating"),
    ({}, 0.42, "P(win) 0.42 < threshold 0.50"),
    ({"messages": ["auto buy refused: order size exceeds visible depth"]}, 0.9, "last order auto buy refused"),
    ({}, 0.9, None),
])
def test_auto_blocker_names_the_first_reason_auto_does_not_act(over, p_win, expected):
    got = auto_blocker(source(**over), p_win, in_position=False)
    assert (got is None) if expected is None else got.startswith(expected), got


def test_auto_blocker_names_an_unhealthy_feed_and_no_decision_yet():
    src = source()
    src.market.announce(FeedState.STALE, "no data", symbol="BTC/USDT")
    assert auto_blocker(src, 0.9, in_position=False) is None  # the reference feed's health does not stop auto
    src.market.announce(FeedState.STALE, "no data", symbol="ETH/USDT")
    src.market.announce(FeedState.RECOVERED, "data again", symbol="BTC/USDT")
    assert auto_blocker(src, 0.9, in_position=False).startswith("ETH/USDT feed stale")
    src.market.announce(FeedState.RECONNECTING, "retry 1")  # the whole venue
    assert auto_blocker(src, 0.9, in_position=False).startswith("ETH/USDT feed reconnecting")
    src.market.announce(FeedState.RECOVERED)
    assert auto_blocker(src, 0.9, in_position=False) is None
    assert auto_blocker(source(), None, in_position=False, decided=False).startswith("warming up: no decision yet")


def test_auto_blocker_says_no_skill_shown_before_the_threshold():
    skill = {"shown": False, "gain_nats": -0.0031, "lower_nats": -0.01, "blocks": 12}
    got = auto_blocker(source(), 0.9, in_position=False, skill=skill)
    assert got.startswith("no skill shown") and "-0.0031 nats" in got, got
    assert auto_blocker(source(), 0.9, in_position=False, skill=dict(skill, shown=True)) is None


def test_model_calls_say_which_side_each_model_leans_to_with_its_raw_outputs():
    calls = {c.name: c for c in model_calls(OUTPUTS, {"cnn": 0.43, "dqn": 0.4, "cob_rl": 0.17}, {"cnn": 23})}
    assert calls["cnn"].says.startswith("buy 0.61") and "P(flat) 0.18" in calls["cnn"].says
    assert calls["dqn"].says.startswith("buy 0.51") and "sell -3.8 bp" in calls["dqn"].says
    assert calls["cob_rl"].says.startswith("sell 0.59")
    assert model_calls({"cob_rl": {"off": "no order book"}}, {}, {})[0].says == "—  off: no order book"
    assert calls["cnn"].version == 23 and calls["dqn"].version is None and calls["cob_rl"].contribution == 0.17
    assert model_calls({}, {}, {}) == ()  # a manual signal without models: nothing invented


def test_manual_trades_count_by_opener_but_not_under_a_lead_model():
    outcomes = [TradeOutcome(1.0, 0.1, "manual", "manual", "dqn", 1), TradeOutcome(-1.0, -0.1, "rule", "auto", "cnn", 2)]
    s = win_stats(outcomes)
    assert s.by_source == {"auto": (1, 0.0), "manual": (1, 1.0)}
    assert s.by_model == {"cnn": (1, 0.0)}


def test_loss_range_starts_at_zero_and_is_not_flattened_by_one_spike():
    values = [1.0 - 0.01 * i for i in range(50)] + [40.0]
    lo, hi, spikes = loss_range(values)
    assert lo == 0.0 and 1.0 < hi < 2.0 and spikes == 1
    assert loss_range([0.5, 0.7]) == (0.0, pytest.approx(0.735), 0)


@pytest.mark.parametrize("lo, hi", [(1, 2), (4, 316), (1, 23), (7, 7)])
def test_step_ticks_are_whole_steps_from_first_to_last(lo, hi):
    ticks = step_ticks(lo, hi)
    assert ticks[0] == lo and ticks[-1] == hi and all(isinstance(t, int) for t in ticks)
    assert ticks == sorted(set(ticks)) and len(ticks) <= 6


def test_speed_ladder_goes_up_to_max_and_down_to_half():
    assert next_speed(1.0, 1) == 2 and next_speed(20.0, -1) == 10 and next_speed(100.0, 1) is None
    assert next_speed(None, -1) == 100 and next_speed(0.5, -1) == 0.5 and next_speed(None, 1) is None
    assert next_speed(7.0, 1) == 10  # an off-ladder speed from the command line joins the ladder


def test_every_reward_component_is_in_the_cells_final_first():
    comps = {"pnl": -0.151, "base": -1.51, "time": -0.00787, "risk": -0.151, "consistency": 0.0, "streak": -0.05,
             "raw": -1.87, "final": -1.87, "new_term": 0.25}
    cells = component_cells(comps)
    assert cells[0].startswith("final") and any(c.startswith("strk") for c in cells) and "new_term +0.25" in cells
    assert not any(c.startswith("raw") for c in cells)  # raw == final before clipping; shown in the inspector


def test_evaluation_renders_verdict_folds_against_the_band_and_other_keys(tmp_path):
    data = {"verdict": "no edge: inside the random band", "folds": [
        {"fold": 0, "net_bp": 1.5, "random_band_bp": [-2.0, 2.0], "trades": 12},
        {"fold": 1, "net_bp": 3.0, "random_band_bp": [-2.0, 2.0]}, {"something": "else"}],
        "pooled": {"net_bp": 2.1}, "spec_hash": "abc", "wall_s": 12.5}
    text = render_evaluation(data).plain
    assert "no edge: inside the random band" in text
    assert "net +1.50 bp  random band [-2.00, +2.00]  inside" in text and "ABOVE the random band" in text
    assert "trades 12" in text and "something else" in text and "spec_hash abc" in text and "net_bp 2.1" in text
    db = tmp_path / "ledger.db"
    assert load_evaluation(str(db))[1:] == (None, None)
    path = latest_evaluation_path(db)
    path.parent.mkdir()
    path.write_text("{broken")
    assert "cannot read" in load_evaluation(str(db))[2]
    path.write_text(json.dumps(data))
    assert load_evaluation(str(db))[1] == data


def test_export_writes_csv_with_nested_fields_as_json_and_json_as_is(tmp_path):
    rows = [{"id": "P1", "pnl": -0.5, "models": {"cnn": 0.6}, "trained": ["cnn"]}]
    path = export_path(str(tmp_path / "l.db"), "csv", "2024-08-08T000000")
    assert path == tmp_path / "exports" / "trades-2024-08-08T000000.csv"
    write_trades(rows, path, "csv")
    got = list(csv.DictReader(path.open()))
    assert got[0]["id"] == "P1" and json.loads(got[0]["models"]) == {"cnn": 0.6}
    jpath = write_trades(rows, path.with_suffix(".json"), "json")
    assert json.loads(jpath.read_text()) == rows
    with pytest.raises(ValueError, match="csv or json"):
        write_trades(rows, path.with_suffix(".xml"), "xml")


def test_replay_progress_against_the_files_span():
    from engine.views.desk import replay_progress
    from tui.widgets.header import progress_text as shown

    assert replay_progress(None, 5) == {} and replay_progress((10, 10), 5) == {}
    whole = replay_progress((0, 720 * 3600 * 10**9), 36 * 3600 * 10**9)
    assert whole == {"total_s": 720 * 3600.0, "progress": 0.05}
    assert shown(36 * 3600, whole["total_s"], whole["progress"]) == "+36h00m of 720h00m (5.0 %)"
    assert shown(36 * 3600, whole["total_s"], whole["progress"], compact=True) == "5.0 % of 720h00m"
    assert shown(95, None, None) == "+1m35s replayed"  # before the span is read


def test_the_equity_curve_ends_at_the_realised_balance_now():
    """Two losing trades from 10,000: the curve falls from 10,000 to 9,998.80 (it once rose
    from 10,001.20 to 10,000, its start taken as the session's start minus the trades)."""
    from tui.widgets.equity import realised_curve

    assert realised_curve(9_998.80, [-0.50, -0.70]) == pytest.approx([10_000.0, 9_999.50, 9_998.80])


def test_the_equity_pane_splits_pnl_by_who_opened_the_trade():
    from tui.widgets.equity import by_opener

    trades = [SimpleNamespace(open_source=s, pnl=p) for s, p in
              (("auto", 1.5), ("explore", -0.5), ("auto", -0.25), ("explore", -1.0), ("manual", 0.1))]
    assert by_opener(trades) == {"greedy": (1.25, 2), "explored": (-1.5, 2), "manual": (0.1, 1)}
    assert by_opener(trades[:1]) == {"greedy": (1.5, 1)}
