"""The ensemble's vote: per-model P(buy) and the configured base weights make one action, a
confidence and each model's share of the signal (the shares decide which models train on
the trade's outcome)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from engine.core.enums import Side
from engine.decision.ensemble import combine

BASE = {"cnn": 0.35, "dqn": 0.45, "cob_rl": 0.20}


def test_unanimous_models_give_their_action_and_confidence_with_base_shares():
    action, confidence, shares = combine({"cnn": 0.8, "dqn": 0.8, "cob_rl": 0.8}, BASE)
    assert action == Side.BUY and confidence == pytest.approx(0.8)
    assert shares == pytest.approx(BASE)  # equally sure models share by base weight
    action, confidence, shares = combine({"cnn": 0.1, "dqn": 0.1, "cob_rl": 0.1}, BASE)
    assert action == Side.SELL and confidence == pytest.approx(0.9) and shares == pytest.approx(BASE)


def test_a_sure_model_outweighs_an_undecided_one_but_the_undecided_keeps_a_share():
    action, confidence, shares = combine({"cnn": 0.5, "dqn": 0.9}, {"cnn": 0.35, "dqn": 0.45})
    raw_cnn, raw_dqn = 0.35 * 0.5, 0.45 * (0.5 + 0.8)  # base x (floor 0.5 + |2p - 1|)
    assert shares == pytest.approx({"cnn": raw_cnn / (raw_cnn + raw_dqn), "dqn": raw_dqn / (raw_cnn + raw_dqn)})
    assert shares["cnn"] > 0, "an undecided model still contributed, so it still trains"
    assert action == Side.BUY
    assert confidence == pytest.approx(shares["cnn"] * 0.5 + shares["dqn"] * 0.9)


def test_disagreement_goes_to_the_heavier_and_surer_side():
    # dqn (0.45) sure of SELL against cnn (0.35) mildly for BUY
    action, confidence, shares = combine({"cnn": 0.6, "dqn": 0.05, "cob_rl": 0.5}, BASE)
    assert action == Side.SELL and shares["dqn"] > shares["cnn"] > shares["cob_rl"]
    assert 0.5 < confidence < 0.95


def test_a_zero_weight_model_has_no_say_and_no_share():
    with_cob = combine({"cnn": 0.7, "dqn": 0.7, "cob_rl": 0.0}, {"cnn": 0.5, "dqn": 0.5, "cob_rl": 0.0})
    without = combine({"cnn": 0.7, "dqn": 0.7}, {"cnn": 0.5, "dqn": 0.5})
    assert with_cob[2]["cob_rl"] == 0.0
    assert with_cob[0] == without[0] == Side.BUY and with_cob[1] == pytest.approx(without[1])
    # a model missing from the base weights counts as weight 0
    assert combine({"cnn": 0.7, "dqn": 0.7, "cob_rl": 0.0}, {"cnn": 0.5, "dqn": 0.5})[2]["cob_rl"] == 0.0


def test_an_exact_tie_is_a_buy_at_confidence_one_half():
    action, confidence, _ = combine({"cnn": 0.5, "dqn": 0.5, "cob_rl": 0.5}, BASE)
    assert action == Side.BUY and confidence == 0.5  # under any threshold: it will not trade


probs = st.floats(0.0, 1.0, allow_nan=False)


@given(p=st.fixed_dictionaries({"cnn": probs, "dqn": probs, "cob_rl": probs}),
       w=st.fixed_dictionaries({"cnn": st.floats(0.01, 1), "dqn": st.floats(0.01, 1), "cob_rl": st.floats(0.01, 1)}))
def test_shares_sum_to_one_and_the_action_follows_the_weighted_vote(p, w):
    action, confidence, shares = combine(p, w)
    assert math.isclose(sum(shares.values()), 1.0) and all(s > 0 for s in shares.values())
    p_buy = sum(shares[m] * p[m] for m in p)
    assert 0.5 <= confidence <= 1.0 and confidence == pytest.approx(max(p_buy, 1 - p_buy))
    assert action == (Side.BUY if p_buy >= 0.5 else Side.SELL)
    # buy and sell are symmetric: the mirrored opinions give the opposite action, same shares
    m_action, m_confidence, m_shares = combine({k: 1.0 - v for k, v in p.items()}, w)
    assert m_shares == pytest.approx(shares) and m_confidence == pytest.approx(confidence)
    if abs(p_buy - 0.5) > 1e-9:
        assert m_action != action


def test_a_broken_model_output_does_not_vote():
    action, confidence, contributions = combine({"cnn": float("nan"), "dqn": 0.9, "cob_rl": 0.9}, BASE)
    assert action == "buy" and confidence == pytest.approx(0.9)
    assert contributions["cnn"] == 0.0 and sum(contributions.values()) == pytest.approx(1.0)


def test_no_model_with_weight_is_an_error_not_a_division_by_zero():
    with pytest.raises(ValueError, match="no model can vote"):
        combine({"cnn": 0.6}, {"cnn": 0.0})
