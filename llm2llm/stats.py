"""Statistics for the report: intervals over seeds and paired comparisons against a baseline.

- A cell's interval is the two-sided 95 % Student t interval of the mean over seeds
  (``scipy.stats.t.interval`` with n-1 degrees of freedom); with n = 1 there is none.
- The paired difference of a method vs the baseline is taken seed by seed over the seeds both ran
  (the same seed set is required), with the t interval of the mean difference.
- The per-example paired test (:func:`paired_test`). Runs over seeds share one test set, so the
  data are a seeds x test examples grid of per-example differences (method right minus baseline
  right, on the same seed): a crossed design with a seed effect, a test-example effect and their
  interaction. The variance of the grid's mean, sigma_seed^2/S + sigma_example^2/N +
  sigma_interaction^2/(S N), is estimated from the three mean squares of the two-way layout
  (method of moments, each variance component truncated at zero), and p is two-sided from Student's
  t with Satterthwaite's degrees of freedom. A test example counts once however many seeds see it,
  and a new draw of seeds is part of what p covers. With one seed nothing separates a seed's effect
  from the test examples': p is then a paired t test over the test examples of that one pair of
  checkpoints. Why not the two-level bootstrap (resample seeds, and test examples shared by every
  seed): its variance counts the interaction twice and its seed part is the plug-in (divide by S)
  one, so it is conservative when per-example noise dominates and too small when seeds do
  (tests/test_stats.py simulates both; docs/benchmarks.md has the figures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy import stats as sps

from llm2llm.errors import Llm2llmError

LEVEL = 0.95


class StatsError(Llm2llmError):
    pass


@dataclass(frozen=True)
class Interval:
    """Mean over n values with its t interval; ``low``/``high`` are None when n < 2."""

    mean: float
    low: float | None
    high: float | None
    n: int

    @property
    def half_width(self) -> float | None:
        return None if self.high is None else self.high - self.mean

    @property
    def excludes_zero(self) -> bool:
        return self.low is not None and (self.low > 0 or self.high < 0)


def t_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """Mean and Student t interval over seeds (no interval for a single value)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise StatsError("no values to average")
    mean = float(x.mean())
    if x.size < 2:
        return Interval(mean, None, None, 1)
    sem = float(sps.sem(x))
    if sem == 0.0:
        return Interval(mean, mean, mean, int(x.size))
    low, high = sps.t.interval(level, x.size - 1, loc=mean, scale=sem)
    return Interval(mean, float(low), float(high), int(x.size))


def paired_difference(method: Mapping[int, float], base: Mapping[int, float]) -> Interval:
    """Mean over seeds of method[seed] - base[seed], with its t interval; both must have the same seeds."""
    if set(method) != set(base):
        raise StatsError(f"paired difference needs the same seeds: {sorted(method)} vs {sorted(base)}")
    seeds = sorted(method)
    return t_interval([method[s] - base[s] for s in seeds])


@dataclass(frozen=True)
class PairedTest:
    """The paired test of one method against a baseline (see the module docstring)."""

    diff: float  # observed mean accuracy difference, method - baseline (a fraction)
    se: float  # its standard error
    df: float  # Satterthwaite's degrees of freedom (inf where the variance has none to estimate)
    p: float  # two-sided
    n_seeds: int
    n_examples: int  # test examples, the same in every seed


def _difference_grid(method: Mapping[int, Mapping[str, bool]],
                     base: Mapping[int, Mapping[str, bool]]) -> np.ndarray:
    """seeds x examples matrix of method-right minus baseline-right (-1, 0, 1), ids sorted."""
    if set(method) != set(base):
        raise StatsError(f"the paired test needs the same seeds: {sorted(method)} vs {sorted(base)}")
    if not method:
        raise StatsError("the paired test needs at least one seed")
    seeds = sorted(method)
    for seed in seeds:
        m, f = method[seed], base[seed]
        if set(m) != set(f):
            only = sorted(set(m) ^ set(f))[:5]
            raise StatsError(f"seed {seed}: the test sets differ ({len(set(m) ^ set(f))} ids not in both, "
                             f"e.g. {only}); a paired test needs the same test examples")
    ids = sorted(method[seeds[0]])
    for seed in seeds[1:]:
        if set(method[seed]) != set(ids):
            raise StatsError(f"seeds {seeds[0]} and {seed} were tested on different test examples; the paired "
                             "test needs one test set shared by every seed")
    if len(ids) < 2:
        raise StatsError("the paired test needs at least two test examples")
    return np.array([[int(bool(method[s][i])) - int(bool(base[s][i])) for i in ids] for s in seeds], dtype=np.int64)


def mean_variance(d: np.ndarray) -> tuple[float, float]:
    """Estimated variance of the mean of a seeds x examples grid ``d`` and its Satterthwaite degrees of
    freedom: var = sigma_s^2/S + sigma_e^2/N + sigma_i^2/(S N), each component from the mean squares
    (E MS_seed = sigma_i^2 + N sigma_s^2, E MS_example = sigma_i^2 + S sigma_e^2, E MS_interaction =
    sigma_i^2), truncated at zero. One seed: the variance over the examples / N, N - 1 df."""
    d = np.asarray(d, dtype=np.float64)
    n_seeds, n_ex = d.shape
    grand = d.mean()
    seed_means, ex_means = d.mean(axis=1), d.mean(axis=0)
    ms_ex = n_seeds * float(((ex_means - grand) ** 2).sum()) / (n_ex - 1)
    if n_seeds == 1:
        return ms_ex / n_ex, float(n_ex - 1)
    ms_seed = n_ex * float(((seed_means - grand) ** 2).sum()) / (n_seeds - 1)
    df_int = (n_seeds - 1) * (n_ex - 1)
    ms_int = float(((d - seed_means[:, None] - ex_means[None, :] + grand) ** 2).sum()) / df_int
    # var * S * N = c_seed MS_seed + c_ex MS_example + c_int MS_interaction; a component truncated at
    # zero drops its mean square and gives its share back to the interaction's
    c_seed, c_ex = float(ms_seed > ms_int), float(ms_ex > ms_int)
    c_int = 1.0 - c_seed - c_ex
    total = c_seed * ms_seed + c_ex * ms_ex + c_int * ms_int
    denom = (c_seed * ms_seed) ** 2 / (n_seeds - 1) + (c_ex * ms_ex) ** 2 / (n_ex - 1) + (c_int * ms_int) ** 2 / df_int
    return total / (n_seeds * n_ex), (total ** 2 / denom if denom > 0 else math.inf)


def paired_test(method: Mapping[int, Mapping[str, bool]], base: Mapping[int, Mapping[str, bool]]) -> PairedTest:
    """Paired test over seeds and test examples. Each argument maps seed -> {example id: correct};
    both must have the same seeds, and every seed the same test example ids (at least two)."""
    d = _difference_grid(method, base)
    n_seeds, n_ex = d.shape
    diff = float(d.mean())
    var, df = mean_variance(d)
    se = math.sqrt(max(var, 0.0))
    if diff == 0.0:
        p = 1.0
    elif se == 0.0:
        p = 0.0  # every seed and example moved the same way: no spread to weigh the difference against
    else:
        p = float(2 * sps.t.sf(abs(diff) / se, df))
    return PairedTest(diff, se, df, p, n_seeds, n_ex)
