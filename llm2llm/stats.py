"""Statistics for the report: intervals over seeds and paired comparisons against fine-tuning.

- A cell's interval is the two-sided 95 % Student t interval of the mean over seeds
  (``scipy.stats.t.interval`` with n-1 degrees of freedom); with n = 1 there is none.
- The paired difference of a method vs fine-tuning is taken seed by seed over the seeds both ran
  (the same seed set is required), with the t interval of the mean difference.
- The per-example paired test is an exact McNemar test: the test examples are matched by id within
  each seed pair, discordant pairs (one right, the other wrong) are pooled over the seed pairs and
  ``scipy.stats.binomtest(b, b + c, 0.5)`` gives the two-sided p.
"""

from __future__ import annotations

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
class McNemar:
    b: int  # method right, base wrong (pooled over seed pairs)
    c: int  # method wrong, base right
    n_pairs: int  # matched examples, summed over seed pairs
    p: float  # exact two-sided p (1.0 when there is no discordant pair)


def mcnemar(method: Mapping[int, Mapping[str, bool]], base: Mapping[int, Mapping[str, bool]]) -> McNemar:
    """Exact McNemar test pooled over seeds. Each argument maps seed -> {example id: correct}; the
    seeds and, within each seed, the test example ids must be the same for both."""
    if set(method) != set(base):
        raise StatsError(f"McNemar needs the same seeds: {sorted(method)} vs {sorted(base)}")
    b = c = n = 0
    for seed in sorted(method):
        m, f = method[seed], base[seed]
        if set(m) != set(f):
            only = sorted(set(m) ^ set(f))[:5]
            raise StatsError(f"seed {seed}: the test sets differ ({len(set(m) ^ set(f))} ids not in both, "
                             f"e.g. {only}); a paired test needs the same test examples")
        for ex_id, right in m.items():
            b += bool(right) and not f[ex_id]
            c += (not right) and bool(f[ex_id])
        n += len(m)
    p = float(sps.binomtest(b, b + c, 0.5).pvalue) if b + c else 1.0
    return McNemar(b, c, n, p)
