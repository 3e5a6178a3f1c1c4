"""Model state is as durable as the ledger: trainings the ledger records but a killed run
never checkpointed are retrained at the next start, exactly once; checkpoints with NaN or
inf are refused and flagged; temp files of killed saves are removed; weights from another
venue kind load only when asked for."""

import logging

import numpy as np
import pytest
import torch

from engine.core.enums import ModelName, Side
from engine.decision.ports import StateArrays, TradeExperience
from engine.features.schema import SCHEMA
from engine.config import load_settings
from engine.runtime.wiring import create_engine
from models.checkpoints import ForeignModels, checkpoint_path
from models.trainer import Trainer

pytestmark = pytest.mark.usefixtures("torch_one_thread")
WEIGHTS = {ModelName.CNN: 0.3, ModelName.DQN: 0.4, ModelName.COB_RL: 0.3}


def _experience(i: int) -> TradeExperience:
    rng = np.random.default_rng(i)
    state = StateArrays(rng.standard_normal(SCHEMA.dim).astype(np.float32),
                        rng.standard_normal((SCHEMA.market_channels, SCHEMA.market_steps)).astype(np.float32),
                        rng.standard_normal(48).astype(np.float32))
    return TradeExperience(state, Side.BUY, 0.5 - i % 2, WEIGHTS, trade_id=f"T{i}")


def _trained(directory, data_source="sim") -> None:
    trainer = Trainer("cpu", directory, data_source, seed=0, dqn_batch_size=2)
    for i in range(3):
        trainer.submit_trade_outcome(_experience(i)).result(timeout=60)
    trainer.close()


def test_checkpoints_list_the_trades_they_learnt_from(tmp_path):
    _trained(tmp_path)
    held = {m: torch.load(checkpoint_path(tmp_path, m), weights_only=True)["trade_outcomes"] for m in ("cnn", "cob_rl")}
    assert held == {"cnn": ["T0", "T1", "T2"], "cob_rl": ["T0", "T1", "T2"]}
    dqn = torch.load(checkpoint_path(tmp_path, "dqn"), weights_only=True)
    assert dqn["trade_outcomes"] == ["T1", "T2"]  # the first was a warm-up: stored, not an update
    assert dqn["counts"]["trade_outcomes"] == 2


def test_a_checkpoint_with_nan_weights_is_set_aside_and_flagged(tmp_path, caplog):
    _trained(tmp_path)
    path = checkpoint_path(tmp_path, "cnn")
    payload = torch.load(path, weights_only=True)
    name = next(iter(payload["state"]["net"]))
    payload["state"]["net"][name] = torch.full_like(payload["state"]["net"][name], float("nan"))
    torch.save(payload, path)
    with caplog.at_level(logging.WARNING):
        trainer = Trainer("cpu", tmp_path, "sim")
    info = trainer.provenance()["cnn"]
    assert info["checkpoint"] == "set_aside" and "non-finite" in info["flag"] and f"state.net.{name}" in info["flag"]
    assert (tmp_path / "cnn.pt.bad-1").exists() and trainer.stats.versions[ModelName.CNN] == 0
    assert trainer.provenance()["cob_rl"]["checkpoint"] == "loaded"
    trainer.predict(*(_experience(9).state.as_dict()[k] for k in ("vector", "market_tensor", "cob")))  # fresh, and it predicts
    trainer.close()


def test_temp_files_of_killed_saves_are_removed_on_load(tmp_path):
    _trained(tmp_path)
    stale = tmp_path / ".dqn.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    Trainer("cpu", tmp_path, "sim").close()
    assert not stale.exists()


def test_weights_from_another_venue_kind_load_only_when_asked_for(tmp_path):
    _trained(tmp_path, "sim")
    with pytest.raises(ForeignModels, match="trained on sim.*--models-from-other-venue"):
        Trainer("cpu", tmp_path, "live")
    trainer = Trainer("cpu", tmp_path, "live", allow_other_venue=True)
    cnn = trainer.provenance()["cnn"]
    assert (cnn["checkpoint"], cnn["other_venue"], cnn["trained_on"]) == ("loaded", True, ["sim"])
    trainer.close()


def test_a_replay_session_refuses_sim_models_with_a_clear_message(tmp_path):
    from engine.config import ConfigError
    from tests.planted_bars import flat_bars, write_klines

    _trained(tmp_path / "ws" / "models", "sim")
    settings = load_settings(use_user_config=False, overrides={
        "venue": {"kind": "replay"}, "storage": {"workspace": str(tmp_path / "ws")}, "models": {"device": "cpu"}})
    bars = [write_klines(tmp_path, "ethusdt", flat_bars(5))]
    with pytest.raises(ConfigError, match="trained on sim"):
        create_engine(settings, data=bars)
    engine = create_engine(settings, data=bars, models_from_other_venue=True)
    assert engine.trainer is not None
    engine.trainer.close()


def _engine_settings(tmp_path):
    return load_settings(use_user_config=False, overrides={
        "storage": {"workspace": str(tmp_path / "ws")}, "engine": {"speed": "max"},
        "models": {"confidence_threshold": 0.0, "calibration_min_pairs": 20, "explore_per_hour_start": 600.0,
                   "auto_trade": True, "device": "cpu"}, "risk": {"max_hold_s": 20.0}})


async def _ledger_trained(engine) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for trade, model, _ in await engine.ledger.trained_trade_outcomes():
        out.setdefault(model, set()).add(trade)
    return out


async def test_trainings_a_kill_left_out_of_the_checkpoints_are_retrained_once(tmp_path):
    first = create_engine(_engine_settings(tmp_path), wall=lambda: 0.0)
    await first.start()
    await first.run(150)
    await first.drain()
    before = await _ledger_trained(first)
    assert before.get("cnn"), "trades closed and trained"
    # kill -9: the ledger has the trainings, no checkpoint was written (fewer than 100 jobs)
    await first.ledger.conn.close()
    assert not (tmp_path / "ws" / "models" / "cnn.pt").exists()

    second = create_engine(_engine_settings(tmp_path), wall=lambda: 0.0)
    await second.start()
    cnn = second.models_provenance["cnn"]
    assert cnn["retrained"] == cnn["ledger_trade_outcomes"] == len(before["cnn"])
    assert "no checkpoint beside a ledger" in cnn["flag"]
    held = torch.load(tmp_path / "ws" / "models" / "cnn.pt", weights_only=True)["trade_outcomes"]
    assert set(held) == before["cnn"]  # durable before the session trades
    assert await _ledger_trained(second) == before  # retraining wrote no second training event
    await second.close()

    third = create_engine(_engine_settings(tmp_path), wall=lambda: 0.0)
    await third.start()
    assert all(p["retrained"] == 0 and p["flag"] is None for p in third.models_provenance.values())
    await third.close()


def test_a_pending_trade_the_checkpoint_already_holds_is_not_trained_twice(tmp_path):
    """A save can land between a step and the ledger's record of it; killed there, the trade
    is pending at the next start although the saved weights learnt it."""
    _trained(tmp_path)  # T0..T2 in the checkpoints
    trainer = Trainer("cpu", tmp_path, "sim", dqn_batch_size=2)
    before = trainer.stats.snapshot_versions()
    events = trainer.submit_trade_outcome(_experience(2)).result(timeout=60)
    assert [(e["model"], e["status"], e["loss"]) for e in events] == [
        ("cnn", "trained", None), ("dqn", "trained", None), ("cob_rl", "trained", None)]
    assert trainer.stats.snapshot_versions() == before  # no step taken
    trainer.submit_trade_outcome(_experience(3)).result(timeout=60)
    after = trainer.stats.snapshot_versions()  # a new trade still trains
    assert after[ModelName.CNN] == before[ModelName.CNN] + 1 and after[ModelName.COB_RL] == before[ModelName.COB_RL] + 1
    trainer.close()


async def test_a_restart_with_its_models_refits_the_calibration_from_the_ledger(tmp_path):
    """The calibration is part of what the models learnt: a session whose checkpoints load
    refits it on the ledger's labelled decisions instead of calibrating from nothing; with
    the checkpoints gone (fresh models) it starts from nothing."""
    first = create_engine(_engine_settings(tmp_path), wall=lambda: 0.0)
    await first.start()
    await first.run(1140)  # labels complete at the 15m horizon: about 16 of them by now
    await first.drain()
    pairs = first.policy.calibrator.pairs
    assert pairs >= 20  # calibration_min_pairs in these settings
    await first.close()

    second = create_engine(_engine_settings(tmp_path), wall=lambda: 0.0)
    await second.start()
    assert second.policy.calibrator.pairs == pairs
    assert second.policy.calibrator.ready and first.policy.calibrator.ready
    assert np.allclose(second.policy.calibrator.coef, first.policy.calibrator.coef)
    await second.close()

    for model in ModelName:
        checkpoint_path(tmp_path / "ws" / "models", model).unlink()
    third = create_engine(_engine_settings(tmp_path), wall=lambda: 0.0)
    await third.start()
    assert third.policy.calibrator.pairs == 0
    await third.close()
