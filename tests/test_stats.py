"""The report's statistics on fixed small inputs whose answers are known, checked against scipy."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from llm2llm.stats import StatsError, mean_variance, paired_difference, paired_test, t_interval


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


def test_paired_test_by_hand():
    # 2 seeds x 3 shared test examples a, b, c. Seed 0: the method is right and the baseline wrong on a
    # only; seed 1: on a and c. Differences D = [[1, 0, 0], [1, 0, 1]]; observed mean 3/6 = 0.5.
    method = {0: {"a": True, "b": True, "c": False}, 1: {"a": True, "b": False, "c": True}}
    base = {0: {"a": False, "b": True, "c": False}, 1: {"a": False, "b": False, "c": False}}
    # By hand: seed means 1/3, 2/3 -> MS_seed = 3 (1/36 + 1/36) / 1 = 1/6; example means 1, 0, 1/2 ->
    # MS_example = 2 (1/4 + 1/4 + 0) / 2 = 1/2; residuals +-(1/6, 1/6, -1/3) -> MS_interaction =
    # (2 x 6/36) / 2 = 1/6. The seed component is truncated (MS_seed is not above MS_interaction), so
    # var = MS_example / (2 x 3) = 1/12 with Satterthwaite df = (1/2)^2 / ((1/2)^2 / 2) = 2.
    res = paired_test(method, base)
    assert (res.diff, res.n_seeds, res.n_examples) == (0.5, 2, 3)
    assert res.se == pytest.approx((1 / 12) ** 0.5) and res.df == pytest.approx(2.0)
    assert res.p == pytest.approx(2 * sps.t.sf(0.5 / (1 / 12) ** 0.5, 2))


def test_one_seed_is_a_paired_t_test_over_the_test_examples():
    d = [[1, 1, 0, -1, 1, 0]]
    res = paired_test(*grid(d))
    assert res.df == 5 and res.se == pytest.approx(1 / 3)  # sample variance 2/3 over 6 examples
    assert res.p == pytest.approx(sps.ttest_1samp(d[0], 0).pvalue)


def test_no_difference_is_p_one_and_no_spread_is_p_zero():
    assert paired_test(*grid([[0, 0], [0, 0]])).p == 1.0
    assert paired_test(*grid([[1, 1], [1, 1]])).p == 0.0  # every seed, every example: +1


def test_the_variance_of_the_mean_is_unbiased_for_a_crossed_design():
    """Seeds x examples with a seed effect, an example effect and noise (continuous, so no component
    is truncated): the estimate averages to the true variance of the grand mean,
    sigma_s^2/S + sigma_e^2/N + sigma_i^2/(S N)."""
    rng = np.random.default_rng(0)
    S, N, sd_s, sd_e, sd_i = 5, 40, 1.0, 2.0, 3.0
    truth = sd_s ** 2 / S + sd_e ** 2 / N + sd_i ** 2 / (S * N)
    estimates = [mean_variance(rng.normal(0, sd_s, (S, 1)) + rng.normal(0, sd_e, (1, N))
                               + rng.normal(0, sd_i, (S, N)))[0] for _ in range(4000)]
    assert np.mean(estimates) == pytest.approx(truth, rel=0.03)


def bootstrap_variance(d: np.ndarray) -> float:
    """What the two-level bootstrap (seeds, and test examples shared by every seed, resampled) gives
    for the variance of the grid's sum, in closed form: T = v'Dw, E[vv'] = I + (1 - 1/S) 11',
    E[ww'] = I + (1 - 1/N) 11'. The report does not use it; it is here to show why (below)."""
    d = np.asarray(d, dtype=np.float64)
    n_seeds, n_ex = d.shape
    rows, cols, total = d.sum(axis=1), d.sum(axis=0), float(d.sum())
    trace = float((d * d).sum()) + (1 - 1 / n_ex) * float(rows @ rows)
    everything = float(cols @ cols) + (1 - 1 / n_ex) * total ** 2
    return trace + (1 - 1 / n_seeds) * everything - total ** 2


def test_the_closed_form_bootstrap_variance_equals_every_resample():
    d = np.array([[1, 0, 0], [1, 0, 1]])
    totals = [d[list(seeds)][:, list(examples)].sum()
              for seeds in itertools.product(range(2), repeat=2) for examples in itertools.product(range(3), repeat=3)]
    assert bootstrap_variance(d) == pytest.approx(np.var(totals)) == pytest.approx(17 / 6)


def simulate(rng: np.random.Generator, n_seeds: int, seed_sd: float, effect: float = 0.0, n_ex: int = 300) -> np.ndarray:
    """One seeds x examples difference grid: each seed's pair of checkpoints differs by a logit shift
    drawn around ``effect`` with spread ``seed_sd``; the examples' difficulty is shared by every seed."""
    difficulty = rng.normal(0, 1.5, n_ex)
    d = np.zeros((n_seeds, n_ex), dtype=int)
    for s in range(n_seeds):
        shift, delta = rng.normal(0, 0.5), rng.normal(effect, seed_sd)
        u = rng.random(n_ex)
        u_m = np.where(rng.random(n_ex) < 0.8, u, rng.random(n_ex))
        base_right = u < 1 / (1 + np.exp(-(difficulty + shift)))
        method_right = u_m < 1 / (1 + np.exp(-(difficulty + shift + delta)))
        d[s] = method_right.astype(int) - base_right.astype(int)
    return d


@pytest.mark.parametrize("regime,seed_sd", [("per-example noise", 0.02), ("mixed", 0.2), ("seed-to-seed", 0.6)])
def test_p_values_hold_over_seeds_where_pooling_them_does_not(regime, seed_sd):
    """Null data (the methods equal on average over seed draws), 5 seeds x 300 shared test examples:
    the paired test rejects at 5 % about as often as it should in every regime, the exact McNemar
    test pooled over seeds far too often where seeds differ; and with a true effect the test finds it
    more often than the two-level bootstrap where per-example noise dominates (which counts that
    noise twice)."""
    rng = np.random.default_rng(1)
    reps = 200
    rejected = pooled = 0
    for _ in range(reps):
        d = simulate(rng, 5, seed_sd)
        rejected += paired_test(*grid(d)).p < 0.05
        b, c = int((d == 1).sum()), int((d == -1).sum())
        pooled += sps.binomtest(b, b + c, 0.5).pvalue < 0.05
    assert 0.01 <= rejected / reps <= 0.09, rejected
    if regime == "seed-to-seed":
        assert pooled / reps >= 0.5
    if regime == "per-example noise":
        found = found_bootstrap = 0
        for _ in range(reps):
            d = simulate(rng, 5, seed_sd, effect=0.15)
            found += paired_test(*grid(d)).p < 0.05
            z = d.mean() / (bootstrap_variance(d) ** 0.5 / d.size)
            found_bootstrap += 2 * sps.t.sf(abs(z), 4) < 0.05
        assert found / reps >= 0.6 and found_bootstrap / reps <= found / reps - 0.2, (found, found_bootstrap)


def test_the_paired_test_refuses_different_test_sets():
    with pytest.raises(StatsError, match="seed 0: the test sets differ"):
        paired_test({0: {"a": True, "b": True}}, {0: {"a": True, "c": False}})
    with pytest.raises(StatsError, match="same seeds"):
        paired_test({0: {"a": True}}, {1: {"a": True}})
    with pytest.raises(StatsError, match="one test set shared by every seed"):
        paired_test({0: {"a": True, "b": True}, 1: {"b": True, "c": True}}, {0: {"a": False, "b": False}, 1: {"b": False, "c": False}})
    with pytest.raises(StatsError, match="at least two test examples"):
        paired_test({0: {"a": True}}, {0: {"a": False}})
