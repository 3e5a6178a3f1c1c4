"""The Trainer: trains the contributing models on a closed trade (events, log lines,
warm-up, NaN skips), predicts from published weights, keeps the event loop responsive,
stops cleanly, and reports ModelsUnavailable when torch is missing."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from engine.features.schema import SCHEMA
from models.cnn import HORIZONS, UP
from models.errors import ModelsUnavailable
from models.trainer import Trainer, resolve_device, with_cnn_features

WEIGHTS = {"cnn": 0.35, "dqn": 0.45, "cob_rl": 0.20}
EVENT_KEYS = {"model", "weight", "loss", "status", "device", "model_version", "duration_ms"}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _state(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"vector": rng.standard_normal(SCHEMA.dim).astype(np.float32),
            "market_tensor": rng.standard_normal((SCHEMA.market_channels, SCHEMA.market_steps)).astype(np.float32),
            "cob": rng.standard_normal(48).astype(np.float32)}


def _signal(rng: np.random.Generator, models_used=WEIGHTS, **extra) -> dict:
    return {"models_used": dict(models_used), "state": _state(rng), "next_state": None, "action": "buy", **extra}


@pytest.fixture
def trainer():
    t = Trainer("cpu", None, "sim", seed=0, dqn_batch_size=3)
    yield t
    t.close()


def test_trains_each_contributing_model_with_events_and_log_lines(trainer, caplog) -> None:
    rng = np.random.default_rng(0)
    with caplog.at_level(logging.INFO, logger="models.trainer"):
        runs = [trainer.train_on_trade_outcome(_signal(rng), {"pnl": 2.35}, 25.4) for _ in range(3)]
    for events in runs:
        assert [e["model"] for e in events] == ["cnn", "dqn", "cob_rl"]
        assert all(set(e) == EVENT_KEYS and e["device"] == "cpu" for e in events)
    assert [e["status"] for e in runs[0]] == ["trained", "warming_up", "trained"]
    assert runs[0][1]["loss"] is None
    assert [e["status"] for e in runs[2]] == ["trained"] * 3
    assert [e["model_version"] for e in runs[2]] == [3, 1, 3]
    messages = [r.getMessage() for r in caplog.records]
    cnn_loss, dqn_loss, cob_loss = (e["loss"] for e in runs[2])
    assert f"CNN trained with weight 0.35, loss={cnn_loss:.4f}" in messages
    assert f"DQN trained with weight 0.45, loss={dqn_loss:.4f}" in messages
    assert f"COB RL trained with weight 0.20, loss={cob_loss:.4f}" in messages
    assert messages.count("✅ TRAINED ALL MODELS: PnL=$2.35, Reward=25.4000") == 3


def test_only_contributing_models_train(trainer) -> None:
    events = trainer.train_on_trade_outcome(
        _signal(np.random.default_rng(1), {"cnn": 0.0, "dqn": 0.0, "cob_rl": 1.0}), {"pnl": -1.0}, -1.0)
    assert [e["model"] for e in events] == ["cob_rl"]
    assert trainer.metrics()["cnn"]["steps"] == 0


def test_contribution_weight_scales_the_loss_not_the_target() -> None:
    rng = np.random.default_rng(2)
    signal = _signal(rng, {"cnn": 0.0, "dqn": 0.0, "cob_rl": 1.0})
    losses = []
    for w in (1.0, 0.25):
        t = Trainer("cpu", None, "sim", seed=0)
        signal["models_used"]["cob_rl"] = w
        losses.append(t.train_on_trade_outcome(signal, {"pnl": 1.0}, 1.0)[0]["loss"])
        t.close()
    assert losses[1] == pytest.approx(0.25 * losses[0], rel=1e-5)


def test_cnn_without_labels_learns_the_trade_direction_at_the_holding_horizon(trainer, monkeypatch) -> None:
    seen = {}
    monkeypatch.setattr(trainer.cnn, "train_step", lambda m, c, r, w: seen.update(c=c, r=r, w=w) or 0.5)
    # A sell that lost money: the market went up. Held 4 minutes: nearest horizon is 5m.
    trainer.train_on_trade_outcome(_signal(np.random.default_rng(3), {"cnn": 1.0}, action="sell"),
                                   {"pnl": -3.0, "hold_time_s": 240}, -0.8)
    expected = np.full((1, 4), -1)
    expected[0, HORIZONS.index("5m")] = UP
    np.testing.assert_array_equal(seen["c"], expected)
    assert np.isnan(seen["r"]).all() and seen["w"][0] == 1.0


def test_non_finite_trade_is_skipped_and_weights_kept(trainer, caplog) -> None:
    rng = np.random.default_rng(4)
    probe = _state(rng)
    before = trainer.predict(probe["vector"], probe["market_tensor"], probe["cob"])
    signal = _signal(rng)
    signal["state"]["cob"][3] = np.nan
    with caplog.at_level(logging.WARNING, logger="models.trainer"):
        events = trainer.train_on_trade_outcome(signal, {"pnl": 1.0}, 1.0)
    assert [e["status"] for e in events] == ["skipped_nan"] * 3
    assert all(e["loss"] is None for e in events)
    assert {m: v["nan_skips"] for m, v in trainer.metrics().items()} == {"cnn": 1, "dqn": 1, "cob_rl": 1}
    assert sum("skipped" in r.getMessage() for r in caplog.records) == 3
    after = trainer.predict(probe["vector"], probe["market_tensor"], probe["cob"])
    np.testing.assert_array_equal(before.dqn_q, after.dqn_q)
    np.testing.assert_array_equal(before.cnn_hidden, after.cnn_hidden)


def test_predict_uses_published_weights_and_refuses_bad_input(trainer) -> None:
    rng = np.random.default_rng(5)
    s = _state(rng)
    p0 = trainer.predict(s["vector"], s["market_tensor"], s["cob"])
    assert p0.cnn_hidden.shape == (512,) and p0.cnn_predictions.shape == (16,) and p0.dqn_q.shape == (2,)
    assert p0.dqn_action in (0, 1) and 0.5 <= p0.dqn_confidence <= 1 and 0.5 <= p0.cob_confidence <= 1
    assert p0.versions == {"cnn": 0, "dqn": 0, "cob_rl": 0}
    trainer.start()
    trainer.submit_trade_outcome(_signal(rng), {"pnl": 1.0}, 1.0).result(timeout=30)
    p1 = trainer.predict(s["vector"], s["market_tensor"], s["cob"])
    assert p1.versions == {"cnn": 1, "dqn": 0, "cob_rl": 1}
    assert not np.array_equal(p0.cnn_predictions, p1.cnn_predictions)
    with pytest.raises(ValueError, match="NaN"):
        trainer.predict(np.full(SCHEMA.dim, np.nan, np.float32), s["market_tensor"], s["cob"])
    with pytest.raises(ValueError, match="shape"):
        trainer.predict(s["vector"][:10], s["market_tensor"], s["cob"])


def test_predict_computes_exactly_what_the_trained_modules_compute() -> None:
    """The inference copies (DQN first layer re-laid out as (out, in)) are the trained
    networks: same outputs before and after training is published."""
    trainer = Trainer("cpu", checkpoint_dir=None, seed=2, dqn_batch_size=2)
    rng = np.random.default_rng(6)
    s = _state(rng)

    def direct() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with torch.inference_mode():
            hidden, preds = trainer.cnn.net.eval()(torch.from_numpy(s["market_tensor"])[None])
            state = with_cnn_features(torch.from_numpy(s["vector"])[None], hidden, preds)
            q = trainer.dqn.online.eval()(state)[0]
            logits = trainer.cob.net.eval()(torch.from_numpy(s["cob"])[None])[0][0]
        return preds[0].numpy(), q.numpy(), logits.numpy()

    try:
        for versions in ({"cnn": 0, "dqn": 0, "cob_rl": 0}, {"cnn": 3, "dqn": 2, "cob_rl": 3}):
            p = trainer.predict(s["vector"], s["market_tensor"], s["cob"])
            assert p.versions == versions
            preds, q, logits = direct()
            np.testing.assert_allclose(p.cnn_predictions, preds, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(p.dqn_q, q, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(p.cob_logits, logits, rtol=1e-5, atol=1e-6)
            for _ in range(3):
                trainer.submit_trade_outcome(_signal(rng), {"pnl": 1.0}, 1.0).result(timeout=60)
    finally:
        trainer.close()


def test_trade_strata_reach_the_dqn_memory_and_restored_experience_is_stored_untrained(trainer) -> None:
    rng = np.random.default_rng(8)
    trainer.submit_trade_outcome(_signal(rng, extrema=True, clear_move=False), {"pnl": -1.0}, -1.0).result(timeout=30)
    memory = trainer.dqn.memory
    assert len(memory) == 1 and memory.strata["extrema"][0] and not memory.strata["clear_move"][0]
    versions = dict(trainer.versions)
    restored = [{"state": _state(rng), "action": "sell", "reward": 0.5, "weight": 0.4, "clear_move": True},
                {"state": {**_state(rng), "cob": np.full(48, np.nan, np.float32)}, "action": "buy", "reward": 1.0,
                 "weight": 0.4}]
    assert trainer.submit_dqn_experience(restored).result(timeout=30) == 1  # the non-finite one is left out
    assert len(memory) == 2 and memory.actions[1] == 1 and memory.rewards[1] == 0.5 and memory.weights[1] == 0.4
    assert memory.strata["clear_move"][1] and memory.dones[1] == 1.0
    assert trainer.versions == versions, "restoring is not training"


def test_cnn_labels_job_and_metrics_snapshot(trainer) -> None:
    trainer.start()
    rng = np.random.default_rng(6)
    labels = {"1m": {"class": 2, "return": 0.3}, "5m": {"class": 1, "return": 0.0}}
    for _ in range(3):
        events = trainer.submit_cnn_labels(_state(rng)["market_tensor"], labels, 1.0).result(timeout=30)
    assert events[0]["status"] == "trained" and events[0]["model_version"] == 3
    m = trainer.metrics()["cnn"]
    assert m["steps"] == 3 and m["last_loss"] == events[0]["loss"] and len(m["history"]) == 3
    assert [step for step, _ in m["history"]] == [1, 2, 3] and m["steps_per_s"] > 0 and m["device"] == "cpu"


async def test_event_loop_stays_responsive_during_training() -> None:
    trainer = Trainer("cpu", None, "sim", seed=0, dqn_batch_size=4)
    trainer.start()
    rng = np.random.default_rng(7)
    signals = [_signal(rng) for _ in range(16)]
    lags: list[float] = []

    async def ticker(done: asyncio.Event) -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - t0 - 0.005)

    done = asyncio.Event()
    tick = asyncio.create_task(ticker(done))
    t0 = time.perf_counter()
    futures = [asyncio.wrap_future(trainer.submit_trade_outcome(s, {"pnl": 1.0}, 1.0)) for s in signals]
    results = await asyncio.gather(*futures)
    busy = time.perf_counter() - t0
    done.set()
    await tick
    await trainer.stop()
    assert all(e["status"] in ("trained", "warming_up") for events in results for e in events)
    assert busy > 0.3 and len(lags) > 20  # the burst was real and the ticker ran through it
    assert max(lags) < 0.050, f"max loop lag {max(lags) * 1e3:.1f} ms"


def test_close_drains_and_later_jobs_fail(tmp_path) -> None:
    trainer = Trainer("cpu", tmp_path, "sim", seed=0)
    trainer.start()
    rng = np.random.default_rng(8)
    fut = trainer.submit_trade_outcome(_signal(rng, {"cob_rl": 1.0}), {"pnl": 1.0}, 1.0)
    t0 = time.perf_counter()
    trainer.close()
    assert time.perf_counter() - t0 < 20
    assert fut.done() and fut.result()[0]["status"] == "trained"
    assert {p.name for p in tmp_path.iterdir()} == {"cnn.pt", "dqn.pt", "cob_rl.pt"}
    with pytest.raises(RuntimeError, match="closed"):
        trainer.submit_trade_outcome(_signal(rng), {"pnl": 1.0}, 1.0).result(timeout=1)


def test_missing_cuda_is_a_clear_models_unavailable() -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ModelsUnavailable, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_without_torch_trainer_raises_models_unavailable() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import models, models.errors\n"
        "from models.trainer import Trainer\n"
        "from models.errors import ModelsUnavailable\n"
        "try:\n    Trainer('cpu')\nexcept ModelsUnavailable as e:\n    print('UNAVAILABLE:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "UNAVAILABLE: PyTorch is not available" in out.stdout


def test_models_bench_measures_and_formats() -> None:
    from models.bench import format_models_bench, run_models_bench

    result = run_models_bench("cpu", iterations=5, seconds_per_case=0.01, batches=(2,))
    assert result["hardware"]["cores"] >= 1 and result["hardware"]["device"] == "cpu"
    assert result["params"]["cnn"] > 1_000_000 and result["params"]["dqn"] > 1_000_000
    assert 0 < result["inference_ms"]["p50"] <= result["inference_ms"]["p99"]
    assert set(result["train_updates_per_s"]) == {"cnn", "dqn", "dqn_terminal", "cob_rl"}
    assert all(r["2"] > 0 for r in result["train_updates_per_s"].values())
    text = format_models_bench(result)
    assert "p99" in text and "dqn_terminal" in text and "b2:" in text
