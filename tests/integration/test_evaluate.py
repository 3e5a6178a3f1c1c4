"""`tickdesk evaluate` end to end on bars this test makes: a pure random walk shows no edge, a
planted learnable pattern should show one, and one job, two jobs and a local Ray instance
give the same JSON.

Hourly bars keep it fast (24 decisions a day, each trade held one bar: max hold 900 s exits at
the next open) with the real models, fills and statistics. The confidence threshold is 0.5,
so the calibrated models trade whenever their skill test passes and the statistics have
trades to judge. One fold with five test days (the fewest the day-block bootstrap gives an
interval for), eight in the 60-day planted and noise cases.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from engine.config import load_settings
from engine.evaluation.pool import JobCache
from engine.evaluation.runner import Request, evaluate
from engine.evaluation.verdict import EDGE, NO_EDGE

T0_MS = 1_748_563_200_000  # 2025-05-30 00:00 UTC
TEST_CONFIG = "[models]\nconfidence_threshold = 0.5\n"


def write_bars(folder: Path, token: str, opens: np.ndarray, minutes: int = 60) -> Path:
    """Bars of `minutes` whose open i is opens[i] and close the next open (high/low 0.1 %
    outside)."""
    name = "1h" if minutes == 60 else f"{minutes}m"
    path = folder / f"bybit_linear_{token}_{name}_synthetic.csv"
    lines = ["open_time_ms,open,high,low,close,volume"]
    for i in range(len(opens) - 1):
        o, c = float(opens[i]), float(opens[i + 1])
        lines.append(f"{T0_MS + i * minutes * 60_000},{o!r},{max(o, c) * 1.001!r},{min(o, c) * 0.999!r},{c!r},10.0")
    path.write_text("\n".join(lines) + "\n")
    return path


def market(folder: Path, days: int, seed: int, planted: bool, minutes: int = 60, vol: float = 0.005) -> list[Path]:
    """ETH and BTC as geometric walks of `vol` a bar; planted: ETH's next bar repeats 90 % of
    BTC's last (a lead-lag far above the 6 bp round trip), else independent."""
    rng = np.random.default_rng(seed)
    n = days * 1440 // minutes + 1
    btc = rng.normal(0, vol, n - 1)
    eth = rng.normal(0, vol, n - 1)
    if planted:
        eth[1:] = 0.9 * btc[:-1] + 0.2 * eth[1:]
    folder.mkdir(parents=True, exist_ok=True)
    return [write_bars(folder, "ethusdt", 2500 * np.exp(np.r_[0, np.cumsum(eth)]), minutes),
            write_bars(folder, "btcusdt", 60000 * np.exp(np.r_[0, np.cumsum(btc)]), minutes)]


def request(folder: Path, files: list[Path], *, train_days: float, jobs: int, ray: str | None = None,
            test_days: float = 5) -> Request:
    config = folder / "config.toml"
    config.write_text(TEST_CONFIG)
    settings = load_settings(config, {"storage": {"db": str(folder / "ledger.db")}}, use_user_config=False)
    return Request(data=files, settings=settings, folds=1, train_days=train_days, test_days=test_days, embargo_min=60,
                   seeds=1, jobs=jobs, ray=ray)


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k != "wall_s"}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


@pytest.fixture(scope="module")
def random_walk(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("random-walk")
    files = market(folder, days=7, seed=4, planted=False)
    req = request(folder, files, train_days=1, jobs=2)
    return folder, req, evaluate(req, JobCache(folder / "cache"))


def test_a_random_walk_shows_no_edge_with_the_numbers(random_walk):
    folder, _, result = random_walk
    assert {"folds", "pooled", "baselines", "verdict", "trials", "fill_model", "seeds", "spec_hash",
            "wall_s"} <= set(result)
    frozen = result["pooled"]["frozen"]["stats"]["greedy"]
    print(result["verdict"])
    assert result["verdict"]["verdict"] == NO_EDGE
    # nothing to learn, so the calibrated models abstain: at most a few greedy trades a test day
    # (the explored ones are counted apart), and the verdict does not claim an edge
    assert frozen["trades"] <= 5 * 5, frozen
    assert result["verdict"]["checks"]["control_clean"] is not None
    if frozen["trades"]:  # baselines are drawn at the model's own entries: none without trades
        assert result["baselines"]["random_band"]["draws"] == 1000
        assert set(result["baselines"]["rules"]) == {"always_long", "always_short", "momentum", "mean_reversion"}
    else:
        assert result["baselines"]["random_band"] is None
    fold = result["folds"][0]
    assert fold["test"] == ["2025-06-01T01:00:00Z", "2025-06-06T00:00:00Z"]
    assert fold["variants"]["untrained"]["training"]["1"]["trained"] == {"trades": 0, "labels": 0}
    assert fold["variants"]["frozen"]["training"]["1"]["trained"]["labels"] > 0
    assert all(t["entry_fill_model"] == "bar_open+half_spread" for t in fold["variants"]["frozen"]["trades"])
    assert result["fill_model"]["round_trip_cost_bp"] == pytest.approx(6.0)
    assert result["trials"]["n_trials"] == 1 and Path(result["trials"]["path"]).parent == folder / "evaluation"


def test_one_job_gives_the_json_two_jobs_give(random_walk, tmp_path):
    folder, req, two_jobs = random_walk
    one_job = evaluate(Request(**{**req.__dict__, "jobs": 1}), JobCache(tmp_path / "cache"))
    assert without_timings(one_job) == without_timings(two_jobs)


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (pip install 'tickdesk[ray]')")
def test_a_local_ray_instance_gives_the_same_json(random_walk, tmp_path):
    folder, req, pool = random_walk
    on_ray = evaluate(Request(**{**req.__dict__, "ray": "local"}), JobCache(tmp_path / "cache"))
    assert without_timings(on_ray) == without_timings(pool)


def test_the_command_reuses_finished_jobs_and_writes_the_result_for_the_tui(random_walk, monkeypatch):
    folder, req, result = random_walk
    from cli import app

    monkeypatch.setenv("XDG_CACHE_HOME", str(folder / "xdg-cache"))  # the command's cache: the fixture's
    (folder / "xdg-cache" / "tickdesk").mkdir(parents=True)
    (folder / "xdg-cache" / "tickdesk" / "evaluate").symlink_to(folder / "cache", target_is_directory=True)
    config = folder / "cli.toml"
    config.write_text(TEST_CONFIG + f"[storage]\ndb = \"{folder / 'ledger.db'}\"\n")
    args = ["evaluate", "--folds", "1", "--train-days", "1", "--test-days", "5", "--jobs", "2", "--config",
            str(config), "--json", str(folder / "out.json")] + [a for f in req.data for a in ("--data", str(f))]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    assert "(cached)" in run.output and "verdict: no edge shown" in run.output
    latest = json.loads((folder / "evaluation" / "latest.json").read_text())
    assert without_timings(latest) == without_timings(json.loads((folder / "out.json").read_text()))
    assert latest["verdict"]["verdict"] == result["verdict"]["verdict"]


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    from cli import app

    files = market(tmp_path, days=3, seed=1, planted=False)
    args = [a for f in files for a in ("--data", str(f))]
    too_long = CliRunner().invoke(app, ["evaluate", "--folds", "3", "--test-days", "2", *args])
    assert too_long.exit_code == 2 and "need 7 days" in too_long.output
    missing = CliRunner().invoke(app, ["evaluate", "--data", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "file not found" in missing.output
    no_models = CliRunner().invoke(app, ["evaluate", "--folds", "1", "--test-days", "1", "--from-workspace", *args])
    assert no_models.exit_code == 2 and "--from-workspace: no checkpoints at" in no_models.output


@pytest.mark.parametrize("planted, verdict", [(True, EDGE), (False, NO_EDGE)], ids=["planted", "noise"])
def test_sixty_training_days_of_a_planted_pattern_show_an_edge_and_of_noise_none(tmp_path, planted, verdict):
    """60 training days of hourly bars: 1,440 labels, what one day of 1m bars gives, and about
    what the models need to learn the lead-lag (one DQN replay step and an eighth of a CNN step
    per label). With 12 or 20 days (288 or 480 labels) it was learned for some seeds and not
    for others (20 days, this data: 1 of 4 model seeds); with 60, for each of 4 model seeds
    (frozen greedy trades at +25 to +60 bp a trade, interval lower bounds +16 to +57, model
    minus always-long lower bounds +15 to +44). The same setup on independent walks must not
    show an edge."""
    files = market(tmp_path, days=69, seed=5, planted=planted)
    result = evaluate(request(tmp_path, files, train_days=60, test_days=8, jobs=2), JobCache(tmp_path / "cache"))
    print(result["verdict"])
    assert result["verdict"]["verdict"].startswith(verdict)
    frozen = result["pooled"]["frozen"]["stats"]["greedy"]
    if planted:  # traded greedily by the models frozen at the cut, well above the costs
        assert frozen["trades"] >= 20 and frozen["ci"]["low"] > 6.0, frozen
        assert result["verdict"]["checks"]["control_clean"]
