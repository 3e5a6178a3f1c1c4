"""The fold plan (cuts on UTC midnights, test spans back to back to the data's last midnight,
the embargo after each cut) and the job key (contents, not paths; every input counts)."""

from __future__ import annotations

import math

import pytest

from engine.evaluation.plan import NS_PER_DAY, NS_PER_MIN, PlanError, fold_plan
from engine.evaluation.pool import JobCache, run_jobs
from engine.evaluation.runner import finite
from engine.evaluation.spec import DataFile, JobSpec, learning_keys, user_settings

START = 20_000 * NS_PER_DAY + 16 * 60 * NS_PER_MIN  # 16:00 UTC on a day
END = START + 30 * NS_PER_DAY


def test_folds_are_back_to_back_whole_days_ending_at_the_last_midnight():
    folds = fold_plan(START, END, folds=3, train_days=1.5, test_days=2, embargo_min=60)
    last_midnight = END - END % NS_PER_DAY
    assert folds[-1].test_end_ns == last_midnight
    for a, b in zip(folds, folds[1:]):
        assert a.test_end_ns == b.cut_ns  # no test day is in two folds
    for f in folds:
        assert f.cut_ns % NS_PER_DAY == 0 and f.test_end_ns - f.cut_ns == 2 * NS_PER_DAY
        assert f.test_start_ns - f.cut_ns == 60 * NS_PER_MIN and f.cut_ns - f.train_start_ns == 1.5 * NS_PER_DAY
        assert f.replay_span == (f.train_start_ns, f.test_end_ns)


def test_a_plan_that_does_not_fit_says_what_would():
    with pytest.raises(PlanError, match="need 31 days"):
        fold_plan(START, END, folds=10, train_days=1, test_days=3, embargo_min=0)
    with pytest.raises(PlanError, match="leaves nothing"):
        fold_plan(START, END, folds=1, train_days=1, test_days=1, embargo_min=1440)


def spec(**kw) -> JobSpec:
    fold = fold_plan(START, END, folds=1, train_days=1, test_days=1, embargo_min=60)[0]
    base = dict(data=(DataFile("/a/eth.csv", "aa"), DataFile("/a/btc.csv", "bb")), settings={"risk": {"max_hold_s": 900}},
                fold=fold, variant="frozen", seed=1, code="c0")
    return JobSpec(**{**base, **kw})


def test_the_key_follows_the_contents_not_the_paths():
    moved = spec(data=(DataFile("/elsewhere/btc.csv", "bb"), DataFile("/elsewhere/eth.csv", "aa")))
    assert moved.key == spec().key
    for change in (dict(seed=2), dict(variant="online"), dict(code="c1"), dict(settings={"risk": {"max_hold_s": 60}}),
                   dict(data=(DataFile("/a/eth.csv", "ab"), DataFile("/a/btc.csv", "bb"))),
                   dict(checkpoints_sha256="ff")):
        assert spec(**change).key != spec().key, change


def test_job_only_settings_do_not_split_the_cache():
    a = user_settings({"storage": {"db": "/x.db"}, "models": {"checkpoint_dir": "/x", "confidence_threshold": 0.7}})
    b = user_settings({"storage": {"db": "/y.db"}, "models": {"checkpoint_dir": "/y", "confidence_threshold": 0.7}})
    assert a == b == {"storage": {}, "models": {"confidence_threshold": 0.7}}


def test_variants_train_as_named():
    fold = spec().fold
    assert learning_keys("untrained", fold)["training"] == "off"
    assert learning_keys("frozen", fold)["train_until"] == learning_keys("shuffled", fold)["train_until"]
    assert learning_keys("shuffled", fold)["control"] == "shuffled"
    assert learning_keys("online", fold)["train_until"] > learning_keys("frozen", fold)["train_until"]


def test_a_cached_job_is_not_run_again(tmp_path):
    cache = JobCache(tmp_path)
    s = spec()
    cache.put(s.key, {"key": s.key, "trades": []})
    seen = []
    out = run_jobs([s, s], cache, jobs=1, on_done=lambda job, cached: seen.append(cached))
    assert out == {s.key: {"key": s.key, "trades": []}} and seen == [True, True]
    (tmp_path / f"{s.key}.json").write_text("{cut sh")  # a crash mid-write reads as absent
    assert cache.get(s.key) is None


def test_json_has_no_nan_or_infinity():
    assert finite({"a": [math.inf, -math.inf, math.nan, 1.5], "b": (2, None)}) == {"a": [None, None, None, 1.5],
                                                                                 "b": [2, None]}
