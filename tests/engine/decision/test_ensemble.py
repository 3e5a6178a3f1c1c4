"""The ensemble: per-model BUY/SELL scores and the configured base weights make one raw
score per side and each model's share of the signal (the shares decide which models train
on the trade's outcome). A model that cannot vote (COB without a book, a broken output)
gets no share."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from engine.core.enums import ModelName, Side
from engine.decision.ensemble import combine, model_scores
from engine.decision.ports import Prediction
from engine.features.schema import CNN_HIDDEN, CNN_PREDICTIONS

BASE = {"cnn": 0.35, "dqn": 0.45, "cob_rl": 0.20}
CNN, DQN, COB = ModelName.CNN, ModelName.DQN, ModelName.COB_RL


def sides(buy: float, sell: float) -> dict[Side, float]:
    return {Side.BUY: buy, Side.SELL: sell}


def test_unanimous_models_give_their_scores_with_base_shares():
    scores, shares = combine({CNN: sides(0.6, 0.1), DQN: sides(0.6, 0.1), COB: sides(0.6, 0.1)}, BASE)
    assert scores[Side.BUY] == pytest.approx(0.6) and scores[Side.SELL] == pytest.approx(0.1)
    assert shares == pytest.approx(BASE)  # equally sure models share by base weight


def test_a_sure_model_outweighs_an_undecided_one_but_the_undecided_keeps_a_share():
    scores, shares = combine({CNN: sides(0.3, 0.3), DQN: sides(0.9, 0.1)}, {"cnn": 0.35, "dqn": 0.45})
    raw_cnn, raw_dqn = 0.35 * 0.5, 0.45 * (0.5 + 0.8)  # base x (floor 0.5 + |buy - sell|)
    assert shares == pytest.approx({CNN: raw_cnn / (raw_cnn + raw_dqn), DQN: raw_dqn / (raw_cnn + raw_dqn)})
    assert shares[CNN] > 0, "an undecided model still contributed, so it still trains"
    assert scores[Side.BUY] == pytest.approx(shares[CNN] * 0.3 + shares[DQN] * 0.9)


def test_a_model_that_cannot_vote_has_no_share_and_no_say():
    with_cob = combine({CNN: sides(0.7, 0.2), DQN: sides(0.7, 0.2), COB: None}, BASE)
    without = combine({CNN: sides(0.7, 0.2), DQN: sides(0.7, 0.2)}, BASE)
    assert with_cob[1][COB] == 0.0
    assert with_cob[0] == pytest.approx(without[0])
    broken = combine({CNN: sides(float("nan"), 0.2), DQN: sides(0.9, 0.05), COB: sides(0.9, 0.05)}, BASE)
    assert broken[1][CNN] == 0.0 and broken[0][Side.BUY] == pytest.approx(0.9)


def test_no_model_with_weight_is_an_error_not_a_division_by_zero():
    with pytest.raises(ValueError, match="no model can vote"):
        combine({CNN: None, DQN: sides(float("nan"), 0.1)}, BASE)


def _prediction(cnn_classes_1m, q, cob_logits, cob_active=True) -> Prediction:
    preds = np.zeros(CNN_PREDICTIONS, np.float32)
    preds[0:3] = cnn_classes_1m  # the 1m head: down, flat, up
    return Prediction(np.zeros(CNN_HIDDEN, np.float32), preds, 0, np.array(q, np.float32), 0.5, 0,
                      np.array(cob_logits, np.float32), 0.5, 0.0, {}, 1.0, cob_active=cob_active)


def test_the_cnn_flat_class_is_an_abstain_vote_and_cob_without_a_book_does_not_vote():
    scores = model_scores(_prediction([0.05, 0.85, 0.10], [0.0, 0.0], [2.0, -2.0], cob_active=False), "1m")
    assert scores[CNN] == pytest.approx(sides(0.10, 0.05))  # 85 % flat: neither side scores above 0.1
    assert scores[DQN] == pytest.approx(sides(0.5, 0.5))    # Q = 0 (nets nothing) on both sides
    assert scores[COB] is None
    on_book = model_scores(_prediction([0.3, 0.4, 0.3], [1.0, -1.0], [2.0, -2.0]), "1m")
    assert on_book[COB][Side.BUY] > 0.9 and on_book[DQN][Side.BUY] > on_book[DQN][Side.SELL]


probs = st.floats(0.0, 1.0, allow_nan=False)
pairs = st.builds(sides, probs, probs)


@given(p=st.fixed_dictionaries({CNN: pairs, DQN: pairs, COB: pairs}),
       w=st.fixed_dictionaries({"cnn": st.floats(0.01, 1), "dqn": st.floats(0.01, 1), "cob_rl": st.floats(0.01, 1)}))
def test_shares_sum_to_one_and_mirrored_opinions_mirror_the_scores(p, w):
    scores, shares = combine(p, w)
    assert math.isclose(sum(shares.values()), 1.0) and all(s > 0 for s in shares.values())
    for side in Side:
        assert scores[side] == pytest.approx(sum(shares[m] * p[m][side] for m in p))
    mirrored, m_shares = combine({m: sides(s[Side.SELL], s[Side.BUY]) for m, s in p.items()}, w)
    assert m_shares == pytest.approx(shares)
    assert mirrored[Side.BUY] == pytest.approx(scores[Side.SELL]) and mirrored[Side.SELL] == pytest.approx(scores[Side.BUY])
