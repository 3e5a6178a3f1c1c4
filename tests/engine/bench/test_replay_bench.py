"""`tickdesk bench replay` and `bench all`: what they count and how they compare (never how fast)."""

import gzip

from engine.bench.replay import STAGES, run_replay_bench
from engine.bench.summary import format_summary, summary_rows
from engine.venues.replay import ReplayVenue
from tests.recorded import WS_DAY1


def test_replay_bench_measures_every_stage_on_the_same_lines(shared_data):
    paths = [shared_data / f for f in WS_DAY1.values()]
    result = run_replay_bench(paths, runs=2)
    venue = ReplayVenue(paths)
    events = sum(1 for _ in venue.iter_events())
    assert result["events"] == result["pipeline_events"] == events
    assert result["by_kind"]["trades"] == sum(s["trades"] for s in venue.stats().values())
    # the floor parsed every line of both files (each is `<ts_ns> <json>`)
    assert result["lines"] == sum(1 for p in paths for line in gzip.open(p, "rt") if line.strip())
    assert set(result["seconds"]) == set(STAGES)
    for stage in STAGES:
        low, high = result["seconds_range"][stage]
        assert 0 < low == result["seconds"][stage] <= high
    assert result["floor_seconds"] == result["seconds"]["read"] + result["seconds"]["json"]
    assert result["ratio_to_floor"]["pipeline"] == result["seconds"]["pipeline"] / result["floor_seconds"]


def _fake_results(pipeline_ratio: float, state_p50: float, p99: float, dqn32: float, equal_rows: int = 8):
    replay = {"seconds": {"read": 0.2, "json": 0.6, "venue": 1.0, "pipeline": 0.8 * pipeline_ratio},
              "ratio_to_floor": {"venue": 1.25, "pipeline": pipeline_ratio}, "floor_seconds": 0.8,
              "lines": 179_318, "events": 47_382}
    state = {"bars": {"p50_ms": state_p50, "p99_ms": 2.0}, "book": {"p50_ms": 0.5, "p99_ms": 1.5}}
    micro = {name: {"1": {"ms_per_decision": 1.0, "rows_bit_equal": 1},
                    "8": {"ms_per_decision": 0.5, "rows_bit_equal": equal_rows,
                          "per_sample_gemm": {"ms_per_decision": 0.75, "rows_bit_equal": 8}}}
             for name in ("cnn", "dqn", "cob_rl")}
    models = {"inference_ms": {"p99": p99}, "train_updates_per_s": {"dqn": {"32": dqn32}}, "hardware": {"device": "cpu"},
              "micro_batch": micro}
    return replay, state, models


def test_summary_rows_say_which_bars_are_met():
    met = summary_rows(*_fake_results(1.9, 0.9, 4.0, 60.0))
    assert [r["met"] for r in met] == [True, True, True, True, True, True]
    missed = summary_rows(*_fake_results(2.5, 1.2, 6.0, 60.0, equal_rows=7))
    assert [r["met"] for r in missed] == [False, False, True, False, False, True]
    assert "2.50x" in missed[0]["figure"]
    assert missed[-2]["figure"] == "1.50 ms vs 3.00 ms; 21 of 24 rows bit-equal"
    assert missed[-1]["figure"] == "0.75 ms vs 1.00 ms; 8 of 8 rows bit-equal"


def test_summary_leaves_out_what_did_not_run():
    replay, _, _ = _fake_results(1.5, 0.9, 4.0, 60.0)
    rows = summary_rows(replay, None, None)
    assert len(rows) == 1
    text = format_summary({"hardware": {"cpu": "x", "cores": 2, "python": "3.11", "os": "linux"}, "rows": rows})
    assert "1.50x" in text and "hardware: x, 2 cores" in text
