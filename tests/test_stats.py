"""The report's statistics on fixed small inputs whose answers are known, checked against scipy."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

import itertools

import numpy as np

from llm2llm.stats import StatsError, bootstrap_variance, paired_bootstrap, paired_difference, t_interval


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


def grid(d):
    """{seed: {id: correct}} for a method and a baseline whose differences are the rows of ``d``."""
    method = {s: {f"x{j}": v == 1 for j, v in enumerate(row)} for s, row in enumerate(d)}
    base = {s: {f"x{j}": v == -1 for j, v in enumerate(row)} for s, row in enumerate(d)}
    return method, base


def brute_force(d):
    """Every two-level resample, enumerated: each ordered draw of seeds and of examples is equally likely."""
    d = np.asarray(d)
    n_seeds, n_ex = d.shape
    totals = [sum(d[s, j] for s in seeds for j in examples)
              for seeds in itertools.product(range(n_seeds), repeat=n_seeds)
              for examples in itertools.product(range(n_ex), repeat=n_ex)]
    return float(np.mean(totals)), float(np.var(totals))


def test_paired_bootstrap_by_hand_and_against_every_resample():
    # 2 seeds x 3 shared test examples a, b, c. Seed 0: the method is right and the baseline wrong on a
    # only; seed 1: on a and c. Differences D = [[1, 0, 0], [1, 0, 1]]; observed mean 3/6 = 0.5.
    method = {0: {"a": True, "b": True, "c": False}, 1: {"a": True, "b": False, "c": True}}
    base = {0: {"a": False, "b": True, "c": False}, 1: {"a": False, "b": False, "c": False}}
    # By hand: T = v'Dw, E[vv'] = I + J/2, E[ww'] = I + 2J/3. D E[ww'] D' = [[5/3, 7/3], [7/3, 14/3]];
    # tr(E[vv'] . that) = 1.5*5/3 + 0.5*7/3 + 0.5*7/3 + 1.5*14/3 = 71/6; Var T = 71/6 - 3^2 = 17/6.
    assert bootstrap_variance(np.array([[1, 0, 0], [1, 0, 1]])) == pytest.approx(17 / 6)
    # ... and over all 2^2 x 3^3 = 108 equally likely resamples:
    mean, var = brute_force([[1, 0, 0], [1, 0, 1]])
    assert mean == pytest.approx(3.0) and var == pytest.approx(17 / 6)
    res = paired_bootstrap(method, base)
    se = (17 / 6) ** 0.5 / 6
    assert (res.diff, res.n_seeds, res.n_examples) == (0.5, 2, 3) and res.se == pytest.approx(se)
    # two-sided Student t, 1 degree of freedom (the Cauchy): p = 1 - 2 atan(t) / pi
    assert res.p == pytest.approx(1 - 2 * math.atan(0.5 / se) / math.pi)
    assert res.p == pytest.approx(2 * sps.t.sf(0.5 / se, 1))


@pytest.mark.parametrize("seed", range(5))
def test_bootstrap_variance_equals_the_enumeration(seed):
    rng = np.random.default_rng(seed)
    shape = [(3, 3), (2, 4), (3, 2), (1, 5), (4, 3)][seed]
    d = rng.integers(-1, 2, size=shape)
    mean, var = brute_force(d)
    assert mean == pytest.approx(d.sum()) and bootstrap_variance(d) == pytest.approx(var, abs=1e-9)


def test_one_seed_is_an_example_bootstrap_with_a_normal_reference():
    d = [[1, 1, 0, -1, 1, 0]]
    _, var = brute_force(d)  # 6^6 resamples of the examples
    res = paired_bootstrap(*grid(d))
    assert res.se == pytest.approx(var ** 0.5 / 6) and res.p == pytest.approx(2 * sps.norm.sf((2 / 6) / res.se))


def test_no_difference_is_p_one_and_no_spread_is_p_zero():
    assert paired_bootstrap(*grid([[0, 0], [0, 0]])).p == 1.0
    assert paired_bootstrap(*grid([[1, 1], [1, 1]])).p == 0.0  # every resample gives +1


def test_p_values_hold_over_seeds_where_pooling_them_does_not():
    """Null data (methods equal on average over seed draws; each seed's checkpoints differ a little
    either way, 5 seeds x 300 shared test examples): the paired bootstrap rejects at 5 % about as often
    as it should, the exact McNemar test pooled over seeds most of the time."""
    rng = np.random.default_rng(1)
    rejected = pooled_rejected = 0
    for _ in range(200):
        difficulty = rng.normal(0, 1.5, 300)
        d = np.zeros((5, 300), dtype=int)
        for s in range(5):
            shift, effect = rng.normal(0, 0.5), rng.normal(0, 0.4)  # effect: this seed's pair, mean 0
            u = rng.random(300)
            u_m = np.where(rng.random(300) < 0.8, u, rng.random(300))
            base_right = u < 1 / (1 + np.exp(-(difficulty + shift)))
            method_right = u_m < 1 / (1 + np.exp(-(difficulty + shift + effect)))
            d[s] = method_right.astype(int) - base_right.astype(int)
        rejected += paired_bootstrap(*grid(d)).p < 0.05
        b, c = int((d == 1).sum()), int((d == -1).sum())
        pooled_rejected += sps.binomtest(b, b + c, 0.5).pvalue < 0.05
    assert rejected / 200 <= 0.08 and pooled_rejected / 200 >= 0.5


def test_the_paired_test_refuses_different_test_sets():
    with pytest.raises(StatsError, match="seed 0: the test sets differ"):
        paired_bootstrap({0: {"a": True, "b": True}}, {0: {"a": True, "c": False}})
    with pytest.raises(StatsError, match="same seeds"):
        paired_bootstrap({0: {"a": True}}, {1: {"a": True}})
    with pytest.raises(StatsError, match="one test set shared by every seed"):
        paired_bootstrap({0: {"a": True}, 1: {"b": True}}, {0: {"a": False}, 1: {"b": False}})
