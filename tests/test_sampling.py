"""Seeded low-data subsampling: same seed, same set, byte for byte; sizes as count or fraction."""

from __future__ import annotations

from collections import Counter

import pytest

from llm2llm.config import TaskConfig
from llm2llm.errors import ConfigError
from llm2llm.example import read_examples, write_examples
from llm2llm import sampling
from llm2llm.sampling import resolve_size, seed_set
from llm2llm.tasks import build_task


@pytest.fixture(scope="module")
def trec_train(data_dir):
    return build_task(TaskConfig(name="trec"), str(data_dir)).load("train")


def test_same_seed_same_set_byte_for_byte(trec_train, tmp_path):
    a, b = seed_set(trec_train, 40, seed=3), seed_set(trec_train, 40, seed=3)
    write_examples(tmp_path / "a.jsonl", a)
    write_examples(tmp_path / "b.jsonl", b)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert read_examples(tmp_path / "a.jsonl") == a


def test_different_seeds_differ(trec_train):
    assert [e.id for e in seed_set(trec_train, 40, seed=0)] != [e.id for e in seed_set(trec_train, 40, seed=1)]


def test_fraction_and_count(trec_train):
    assert len(seed_set(trec_train, 0.01, seed=0)) == round(0.01 * len(trec_train))
    assert len(seed_set(trec_train, 17, seed=0)) == 17


def test_stratified_follows_label_shares(trec_train):
    seeds = seed_set(trec_train, 100, seed=0, stratify=True)
    counts = Counter(e.answer for e in seeds)
    full = Counter(e.answer for e in trec_train)
    assert len(seeds) == 100
    for label, n in full.items():
        assert abs(counts[label] - 100 * n / len(trec_train)) < 1
    assert seed_set(trec_train, 100, seed=0, stratify=True) == seeds


def test_proportional_strata_drop_a_rare_label_and_equal_quotas_keep_it(trec_train):
    """24 TREC seeds: in proportion to train, abbreviation (86 of 5,452) gets 0.38 and rounds away in
    every draw; with equal quotas every label gets 4, and 26 seeds give two seeded labels a fifth."""
    for seed in range(3):
        proportional = Counter(e.answer for e in seed_set(trec_train, 24, seed, stratify=True))
        assert proportional["abbreviation"] == 0 and sum(proportional.values()) == 24
        equal = seed_set(trec_train, 24, seed, stratify=True, equal=True)
        assert Counter(e.answer for e in equal) == {label: 4 for label in {e.answer for e in trec_train}}
        assert seed_set(trec_train, 24, seed, stratify=True, equal=True) == equal
    counts = sorted(Counter(e.answer for e in seed_set(trec_train, 26, 0, stratify=True, equal=True)).values())
    assert counts == [4, 4, 4, 4, 5, 5]
    with pytest.raises(ConfigError, match="label 'abbreviation' has 86 examples, fewer than its 100 of 600 seeds"):
        seed_set(trec_train, 600, 0, stratify=True, equal=True)


def test_equal_quotas_need_a_stratified_draw():
    from llm2llm.config import LabelQuota

    assert TaskConfig(name="trec", stratify=True, label_quota=LabelQuota.equal).label_quota == "equal"
    with pytest.raises(ConfigError, match="task.label_quota: equal needs task.stratify=true"):
        TaskConfig(name="trec", stratify=False, label_quota=LabelQuota.equal)


def test_seed_set_marks_provenance(trec_train):
    assert all(e.origin == "seed" and e.iteration == 0 and e.parent_id is None for e in seed_set(trec_train, 5, 0))


@pytest.mark.parametrize("size", [0, -1, 0.0000001, 5453])
def test_bad_seed_sizes(trec_train, size):
    with pytest.raises(ConfigError, match="seed_size"):
        resolve_size(size, len(trec_train))


def test_test_subset_is_fixed(trec_train):
    assert sampling.test_subset(trec_train, 50, 0) == sampling.test_subset(trec_train, 50, 0)
    assert len(sampling.test_subset(trec_train, None, 0)) == len(trec_train)
