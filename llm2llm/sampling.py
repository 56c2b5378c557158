"""Seeded low-data subsampling: the seed set D_0 and the fixed test subset."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Sequence

from llm2llm.errors import ConfigError
from llm2llm.example import Example


def resolve_size(size: float, population: int, what: str = "task.seed_size") -> int:
    """A count (>= 1) or a fraction of ``population`` (0 < size < 1) -> a count, checked."""
    if size <= 0:
        raise ConfigError(f"{what}: must be >= 1 (a count) or in (0, 1) (a fraction), got {size}")
    n = round(size * population) if size < 1 else int(size)
    if n < 1:
        raise ConfigError(f"{what}: {size} of {population} examples is below 1 example")
    if n > population:
        raise ConfigError(f"{what}: {n} is larger than the split ({population} examples)")
    return n


def sample(examples: Sequence[Example], n: int, seed: int, stratify: bool = False,
           equal: bool = False) -> list[Example]:
    """Draw ``n`` examples with an RNG seeded by ``seed``; the result keeps the split's order.

    Stratified sampling gives each label its share of ``n`` (largest remainders first, ties broken
    by the seeded RNG), so a rare label still appears when its share rounds to one or more; with
    ``equal``, every label gets ``n // labels`` and a seeded choice of labels one more (ConfigError
    where a label has fewer examples than that).
    """
    rng = random.Random(seed)
    index = list(range(len(examples)))
    if not stratify:
        chosen = rng.sample(index, n)
    else:
        by_label: dict[str, list[int]] = defaultdict(list)
        for i in index:
            by_label[examples[i].answer].append(i)
        labels = sorted(by_label)
        if equal:
            counts = {l: n // len(labels) for l in labels}
            for l in rng.sample(labels, n % len(labels)):
                counts[l] += 1
            short = [l for l in labels if counts[l] > len(by_label[l])]
            if short:
                raise ConfigError(f"task.label_quota=equal: label {short[0]!r} has {len(by_label[short[0]])} examples, "
                                  f"fewer than its {counts[short[0]]} of {n} seeds")
        else:
            quotas = {l: n * len(by_label[l]) / len(examples) for l in labels}
            counts = {l: int(quotas[l]) for l in labels}
            order = sorted(labels, key=lambda l: (-(quotas[l] - counts[l]), rng.random()))
            for l in order[: n - sum(counts.values())]:
                counts[l] += 1
        chosen = [i for l in labels for i in rng.sample(by_label[l], counts[l])]
    return [examples[i] for i in sorted(chosen)]


def seed_set(train: Sequence[Example], size: float, seed: int, stratify: bool = False,
             equal: bool = False) -> list[Example]:
    """D_0: a seeded random subsample of train, each example marked origin="seed", iteration 0
    (``stratify`` / ``equal``: see :func:`sample`)."""
    n = resolve_size(size, len(train))
    return [e.derive(origin="seed", iteration=0, parent_id=None) for e in sample(train, n, seed, stratify, equal)]


def test_subset(test: Sequence[Example], size: int | None, seed: int) -> list[Example]:
    if size is None or size >= len(test):
        return list(test)
    return sample(test, resolve_size(size, len(test), "task.test_size"), seed)
