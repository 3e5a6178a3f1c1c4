"""Checkpoints: atomic round trip; corrupted, schema-mismatched and ill-fitting files are
set aside (`*.bad-<n>`) with a warning and the model starts fresh."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from engine.core.enums import ModelName, Side
from engine.decision.ports import StateArrays, TradeExperience
from engine.features.schema import SCHEMA
from models.checkpoints import checkpoint_path, load_checkpoint, save_checkpoint
from models.trainer import Trainer


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(SCHEMA.dim).astype(np.float32),
            rng.standard_normal((SCHEMA.market_channels, SCHEMA.market_steps)).astype(np.float32),
            rng.standard_normal(48).astype(np.float32))


def _save(path, **over) -> None:
    kw = dict(model="cob_rl", state={"net": {"w": torch.arange(4.0)}}, optimizer={"state": {}, "param_groups": []},
              model_version=7, data_source="replay", data_sources=["sim"], counts={"steps": 7})
    kw.update(over)
    save_checkpoint(path, **kw)


def test_save_load_round_trip_is_atomic(tmp_path) -> None:
    path = checkpoint_path(tmp_path, "cob_rl")
    _save(path)
    _save(path, model_version=8)  # replaces in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cob_rl.pt"]  # no temp files left
    payload = load_checkpoint(path, "cob_rl")
    assert payload["model_version"] == 8
    assert payload["schema_fingerprint"] == SCHEMA.fingerprint and payload["schema_version"] == SCHEMA.version
    assert payload["data_source"] == "replay" and payload["data_sources"] == ["replay", "sim"]
    assert torch.equal(payload["state"]["net"]["w"], torch.arange(4.0))


def test_trainer_round_trip_restores_weights_versions_and_counts(tmp_path) -> None:
    v, m, c = _inputs()
    first = Trainer("cpu", tmp_path, "sim", seed=0, dqn_batch_size=2)
    weights = {ModelName.CNN: 0.3, ModelName.DQN: 0.4, ModelName.COB_RL: 0.3}
    for reward in (1.0, -0.5, 0.7):
        trade = TradeExperience(StateArrays(v, m, c), Side.BUY, reward, weights, pnl=reward)
        first.submit_trade_outcome(trade).result(timeout=60)
    before = first.predict(v, m, c)
    first.close()
    torch.manual_seed(123)  # a fresh model would differ
    second = Trainer("cpu", tmp_path, "live", allow_other_venue=True)  # SIM weights, asked for
    after = second.predict(v, m, c)
    assert after.versions == before.versions == {"cnn": 3, "dqn": 2, "cob_rl": 3}
    np.testing.assert_array_equal(after.cnn_predictions, before.cnn_predictions)
    np.testing.assert_array_equal(after.dqn_q, before.dqn_q)
    np.testing.assert_array_equal(after.cob_logits, before.cob_logits)
    assert second.metrics()["cob_rl"]["steps"] == 3
    assert second.registry.data_sources["cnn"] == ["sim"]
    assert second.dqn.updates == first.dqn.updates == 2  # the DQN warmed up on the first trade
    second.close()
    assert load_checkpoint(checkpoint_path(tmp_path, "cnn"), "cnn")["data_sources"] == ["live", "sim"]


def _fresh_start_after(tmp_path, caplog, bad_name: str, expect: str) -> None:
    with caplog.at_level(logging.WARNING, logger="models.checkpoints"):
        trainer = Trainer("cpu", tmp_path, "sim", allow_other_venue=True)  # _save tags replay + sim
    assert trainer.stats.versions["cnn"] == 0
    assert not (tmp_path / "cnn.pt").exists() and (tmp_path / bad_name).exists()
    assert any(expect in r.getMessage() and "starts fresh" in r.getMessage() for r in caplog.records)
    trainer.predict(*_inputs())  # and it still predicts


def test_corrupted_checkpoint_is_set_aside(tmp_path, caplog) -> None:
    (tmp_path / "cnn.pt.bad-1").write_bytes(b"an earlier bad file")
    (tmp_path / "cnn.pt").write_bytes(b"\x00garbage, not a zip archive")
    _fresh_start_after(tmp_path, caplog, "cnn.pt.bad-2", "unreadable")


def test_truncated_checkpoint_is_set_aside(tmp_path, caplog) -> None:
    path = checkpoint_path(tmp_path, "cnn")
    _save(path, model="cnn")
    path.write_bytes(path.read_bytes()[:200])
    _fresh_start_after(tmp_path, caplog, "cnn.pt.bad-1", "unreadable")


def test_schema_mismatch_is_set_aside(tmp_path, caplog) -> None:
    path = checkpoint_path(tmp_path, "cnn")
    _save(path, model="cnn")
    payload = torch.load(path, weights_only=True)
    payload["schema_fingerprint"] = "0123456789abcdef"
    torch.save(payload, path)
    _fresh_start_after(tmp_path, caplog, "cnn.pt.bad-1", "feature schema 0123456789abcdef")


def test_checkpoint_that_does_not_fit_the_model_is_set_aside(tmp_path, caplog) -> None:
    _save(checkpoint_path(tmp_path, "cnn"), model="cnn")  # right header, wrong tensors
    _fresh_start_after(tmp_path, caplog, "cnn.pt.bad-1", "does not fit")
