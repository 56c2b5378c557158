"""AugGPT (Dai et al. 2023): the teacher rephrases every seed example into label-preserving variants.

A thin layer over ``Teacher.rephrase`` (which prompts, validates, deduplicates and caches): it
asks for each seed's count (``method.num_aug``, or a per-seed budget from
``baselines.budget.per_seed_counts``) and trims any surplus per seed; re-asking for outputs
that fail validation or dedup is the teacher's job (``teacher.max_reasks``). Unlike LLM2LLM,
every seed is augmented, not only the ones the student gets wrong, and only once, before
training.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable, Sequence

from baselines.budget import expand_counts
from llm2llm.errors import ConfigError
from llm2llm.example import Example
from llm2llm.teacher.core import merge_stats


def auggpt_augment(teacher: Any, seeds: Sequence[Example], num_aug: int | Sequence[int] = 4,
                   existing: Iterable[Example] = (), forbidden: Iterable[Example] = ()) -> tuple[list[Example], dict[str, Any]]:
    """Rephrase each seed ``num_aug`` times (an int, or one count per seed) with ``teacher``.

    Seeds are grouped by their count and each group goes to ``teacher.rephrase`` once (so every
    seed is in exactly one call and the teacher's ids ``<seed id>-auggpt-r<j>`` stay unique).
    The teacher re-asks for outputs that fail validation or dedup (``teacher.max_reasks``); a
    seed that is still short is counted in the stats, never padded.

    ``existing``: examples the new ones must not duplicate besides the seeds themselves (always
    included). ``forbidden``: examples nothing may copy (the test split). Returns the new
    examples (origin "auggpt", grouped by seed in seed order, at most the seed's count each) and
    stats: ``requested``, ``kept``, ``shortfall`` (asked minus kept), ``surplus_dropped``,
    ``calls``, ``short_seeds`` and ``teacher`` (the teacher's own stats summed over its calls).
    """
    seeds = list(seeds)
    counts = expand_counts(num_aug, len(seeds))
    want = {s.id: c for s, c in zip(seeds, counts)}
    if len(want) != len(seeds):
        raise ConfigError("AugGPT: duplicate seed ids")
    known = seeds + list(existing)
    forbidden = list(forbidden)
    groups: dict[int, list[Example]] = defaultdict(list)
    for s, c in zip(seeds, counts):
        if c > 0:
            groups[c].append(s)
    got: dict[str, list[Example]] = defaultdict(list)
    stats: dict[str, Any] = {}
    surplus = 0
    for k in sorted(groups):
        result = teacher.rephrase(groups[k], k, existing=known, forbidden=forbidden)
        merge_stats(stats, getattr(result, "stats", None))
        for ex in getattr(result, "examples", result):
            pid = ex.parent_id
            if pid not in want:
                raise AssertionError(f"teacher returned an example for unknown parent {pid!r}")
            if len(got[pid]) < want[pid]:
                got[pid].append(ex)
            else:
                surplus += 1
        known = known + [e for s in groups[k] for e in got[s.id]]  # later groups dedup against these
    out = [ex for s in seeds for ex in got[s.id]]
    ids = Counter(ex.id for ex in out)
    dup = [i for i, c in ids.items() if c > 1]
    if dup:
        raise AssertionError(f"teacher returned duplicate example ids, e.g. {dup[0]!r}")
    requested = sum(counts)
    return out, {
        "requested": requested,
        "kept": len(out),
        "shortfall": requested - len(out),
        "surplus_dropped": surplus,
        "calls": len(groups),
        "short_seeds": sum(1 for s in seeds if len(got[s.id]) < want[s.id]),
        "teacher": stats,
    }


__all__ = ["auggpt_augment"]
