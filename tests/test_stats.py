"""The report's statistics on fixed small inputs whose answers are known, checked against scipy."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from llm2llm.stats import StatsError, mcnemar, paired_difference, t_interval


def test_t_interval_matches_scipy_and_the_textbook_formula():
    values = [70.0, 74.0, 78.0]  # mean 74, sd 4, sem 4/sqrt(3)
    iv = t_interval(values)
    low, high = sps.t.interval(0.95, 2, loc=74.0, scale=4 / math.sqrt(3))
    assert (iv.mean, iv.n) == (74.0, 3)
    assert iv.low == pytest.approx(low) and iv.high == pytest.approx(high)
    # t_{0.975, 2} = 4.302652729...: half-width 4.3027 * 4 / sqrt(3) = 9.9365
    assert iv.half_width == pytest.approx(4.302652729 * 4 / math.sqrt(3), rel=1e-8)
    assert iv.excludes_zero


def test_a_single_seed_has_no_interval():
    iv = t_interval([61.5])
    assert (iv.mean, iv.n, iv.low, iv.high, iv.half_width) == (61.5, 1, None, None, None)
    assert not iv.excludes_zero
    with pytest.raises(StatsError, match="no values"):
        t_interval([])


def test_paired_difference_of_a_hand_example():
    method = {0: 80.0, 1: 70.0, 2: 75.0}
    finetune = {2: 72.0, 0: 78.0, 1: 69.0}  # matched by seed, not by order: differences 2, 1, 3
    d = paired_difference(method, finetune)
    assert d.mean == pytest.approx(2.0) and d.n == 3
    low, high = sps.t.interval(0.95, 2, loc=2.0, scale=1.0 / math.sqrt(3))  # sd of (2, 1, 3) is 1
    assert (d.low, d.high) == (pytest.approx(low), pytest.approx(high))
    assert d.low < 0 < d.high and not d.excludes_zero  # a +2 mean that three seeds cannot resolve
    # The unpaired intervals overlap far more: pairing removes the seed-to-seed spread.
    assert t_interval(list(method.values())).half_width > d.half_width
    with pytest.raises(StatsError, match="same seeds"):
        paired_difference({0: 1.0, 1: 2.0}, {0: 1.0, 2: 2.0})


def test_mcnemar_pools_discordant_pairs_over_seeds():
    # seed 0: ids a..e; method right / finetune wrong on a, b; the reverse on c
    m0 = {"a": True, "b": True, "c": False, "d": True, "e": False}
    f0 = {"a": False, "b": False, "c": True, "d": True, "e": False}
    # seed 1: method right / finetune wrong on x, y, z; no reverse pair
    m1 = {"x": True, "y": True, "z": True, "w": True}
    f1 = {"x": False, "y": False, "z": False, "w": True}
    res = mcnemar({0: m0, 1: m1}, {0: f0, 1: f1})
    assert (res.b, res.c, res.n_pairs) == (5, 1, 9)
    # exact two-sided p for 5 vs 1 of 6 discordant: 2 * P(X <= 1), X ~ Bin(6, 1/2) = 2 * 7/64
    assert res.p == pytest.approx(14 / 64)
    assert res.p == pytest.approx(sps.binomtest(5, 6, 0.5).pvalue)


def test_mcnemar_without_discordant_pairs_is_p_one():
    same = {0: {"a": True, "b": False}}
    assert mcnemar(same, same).p == 1.0


def test_mcnemar_refuses_different_test_sets():
    with pytest.raises(StatsError, match="seed 0: the test sets differ"):
        mcnemar({0: {"a": True, "b": True}}, {0: {"a": True, "c": False}})
    with pytest.raises(StatsError, match="same seeds"):
        mcnemar({0: {"a": True}}, {1: {"a": True}})
