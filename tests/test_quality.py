"""PGR, CPT, APGR, cost and judge score against cases worked out by hand."""

import math

import numpy as np
import pytest

from edge_router.errors import InvalidInputError
from edge_router.evaluation.quality import PairPrices, cost_usd, curve, judge_scores, strong_mask

STRONG = [1, 1, 0, 1]
WEAK = [0, 1, 0, 0]


def test_curve_cpt_and_apgr_by_hand():
    c = curve([0.9, 0.1, 0.5, 0.3], STRONG, WEAK)
    # order 0, 2, 3, 1 gains 1, 0, 1, 0 -> r = .25 .5 .5 .75 .75, spread .5
    np.testing.assert_allclose(c.quality, [0.25, 0.5, 0.5, 0.75, 0.75])
    np.testing.assert_allclose(c.pgr, [0, 0.5, 0.5, 1, 1])
    assert c.cpt(0.5) == pytest.approx(0.25)
    assert c.cpt(0.8) == pytest.approx(0.5 + 0.3 / 0.5 * 0.25)
    assert c.apgr() == pytest.approx(0.625)


def test_tied_scores_route_like_random_in_expectation():
    c = curve([0.3] * 4, STRONG, WEAK)
    np.testing.assert_allclose(c.pgr, [0, 0.25, 0.5, 0.75, 1])
    assert c.apgr() == pytest.approx(0.5)
    assert c.cpt(0.5) == pytest.approx(0.5)


def test_oracle_reaches_full_gain_at_the_share_of_helped_queries():
    strong, weak = np.array(STRONG, float), np.array(WEAK, float)
    c = curve(strong - weak, strong, weak)
    assert c.cpt(1.0) == pytest.approx(0.5)
    assert c.apgr() > curve([0.0] * 4, strong, weak).apgr()


def test_mean_judge_scores_work_as_outcomes():
    c = curve([1, 0], [9.0, 8.0], [7.0, 8.0])
    np.testing.assert_allclose(c.quality, [7.5, 8.5, 8.5])
    np.testing.assert_allclose(c.pgr, [0, 1, 1])


def test_target_above_full_gain_is_nan():
    assert math.isnan(curve([0.9, 0.1, 0.5, 0.3], STRONG, WEAK).cpt(1.5))


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(InvalidInputError, match="same non-zero length"):
        curve([0.1, 0.2], STRONG, WEAK)
    with pytest.raises(InvalidInputError, match="NaN"):
        curve([np.nan, 0, 0, 0], STRONG, WEAK)
    with pytest.raises(InvalidInputError, match="PGR is undefined"):
        curve([0.1, 0.2], [1, 0], [0, 1])


def test_cost_and_mask():
    mask = strong_mask([0.9, 0.1], 0.5)
    assert mask.tolist() == [True, False]
    prices = PairPrices.of(strong_input=10, strong_output=30, weak_input=1, weak_output=2)
    usd = cost_usd(mask, prices, input_tokens=[100, 200], strong_output_tokens=[10, 20], weak_output_tokens=[5, 5])
    assert usd == pytest.approx((100 * 10 + 10 * 30 + 200 * 1 + 5 * 2) / 1e6)


def test_judge_score_shares_a_pick_between_identical_answers():
    scores = judge_scores([{"a", "b"}, {"a"}, {"c"}], ["a", "b", "c"])
    assert scores == pytest.approx({"a": 200 / 3, "b": 100 / 3, "c": 100 / 3})
    with pytest.raises(InvalidInputError):
        judge_scores([], ["a"])
