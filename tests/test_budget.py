"""Budget matching: a baseline adds exactly as many examples as an LLM2LLM run did."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from baseline_fixtures import load, write_results
from baselines.budget import per_seed_counts, read_budget, split_budget
from baselines.eda import eda_augment
from llm2llm.errors import ConfigError
from llm2llm.example import Example


def test_reads_total_from_a_results_file_and_from_its_run_dir(tmp_path):
    p = write_results(tmp_path / "run" / "results.json", added=[5, 3, 2], task="trec", seed=1)
    for where in (p, p.parent):
        b = read_budget(where, expect_task="trec", expect_seed=1)
        assert (b.total, b.task, b.seed, b.iterations, b.source) == (10, "trec", 1, 3, p)


def test_sum_of_added_when_total_is_absent(tmp_path):
    p = write_results(tmp_path / "results.json", added=[4, 0, 7], total=None)
    assert read_budget(p).total == 11
    # total_augmented wins when both are there (it also counts non-seed examples in D_0)
    p = write_results(tmp_path / "results.json", added=[4, 0, 7], total=13)
    assert read_budget(p).total == 13


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(status="running"), r"not complete \(status='running'\)"),
    (lambda d: d.pop("status"), r"not complete \(status=None\)"),
    (lambda d: (d.pop("total_augmented"), d.update(iterations=[])), "neither 'total_augmented' nor"),
    (lambda d: d.update(total_augmented=-1), "whole number >= 0"),
    (lambda d: (d.pop("total_augmented"), d["iterations"][1].update(added=-2)), r"iterations\[1\].added"),
    (lambda d: d.update(total_augmented="12"), "whole number >= 0"),
    (lambda d: d.update(iterations={"0": 1}), "'iterations' must be a list"),
    (lambda d: d.update(method="eda"), "budgets come from an llm2llm run"),
])
def test_bad_results_files_are_clear_errors(tmp_path, mutate, message):
    p = write_results(tmp_path / "results.json", added=[2, 2])
    d = json.loads(p.read_text())
    mutate(d)
    p.write_text(json.dumps(d))
    with pytest.raises(ConfigError, match=message) as e:
        read_budget(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        read_budget(tmp_path / "nope" / "results.json")
    with pytest.raises(ConfigError, match="not found"):
        read_budget(tmp_path)  # a directory without results.json
    (tmp_path / "results.json").write_text('{"status": "complete", ')
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_budget(tmp_path)
    (tmp_path / "results.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        read_budget(tmp_path)


def test_task_and_seed_must_match(tmp_path):
    p = write_results(tmp_path / "results.json", added=[3], task="sst2", seed=0)
    with pytest.raises(ConfigError, match="task 'sst2', but this run's task is 'trec'"):
        read_budget(p, expect_task="trec")
    with pytest.raises(ConfigError, match="seed 0, but this run's seed is 2"):
        read_budget(p, expect_seed=2)


@pytest.mark.parametrize("n, total", [(8, 0), (8, 5), (8, 8), (8, 21), (1, 7), (13, 100)])
def test_split_budget_is_exact_even_and_seeded(n, total):
    counts = split_budget(n, total, seed=0)
    assert len(counts) == n and sum(counts) == total
    assert max(counts) - min(counts) <= 1
    assert counts == split_budget(n, total, seed=0)
    if total % n:
        variants = {tuple(split_budget(n, total, seed=s)) for s in range(10)}
        assert len(variants) > 1 or n == 1


def test_split_budget_edge_cases():
    assert split_budget(0, 0) == []
    with pytest.raises(ConfigError, match="at least one seed"):
        split_budget(0, 3)


def test_per_seed_counts_without_and_with_a_budget(tmp_path):
    seeds = [Example(id=f"s{i}", text=f"t {i}", answer="positive") for i in range(6)]
    assert per_seed_counts(seeds, 3) == [3] * 6
    assert per_seed_counts(4, 2) == [2] * 4
    p = write_results(tmp_path / "results.json", added=[4, 3, 1, 2, 1])
    counts = per_seed_counts(seeds, 3, str(p), seed=5, task="sst2", expect_seed=0)
    assert sum(counts) == 11 and sorted(set(counts)) == [1, 2]
    with pytest.raises(ConfigError, match="method.num_aug"):
        per_seed_counts(seeds, -1)


def test_eda_matches_the_llm2llm_budget_exactly_on_real_data(tmp_path, data_dir):
    """The whole path: an LLM2LLM results.json -> per-seed counts -> EDA adds exactly that many.

    The results file is built with the documented run-directory schema (see write_results); once
    `python train.py method=llm2llm` runs end to end this should read a real run's results.json.
    """
    task, seeds = load("trec", data_dir, n=12)
    p = write_results(tmp_path / "llm2llm" / "results.json", added=[7, 5, 3], task="trec", seed=0, n_seed=12)
    counts = per_seed_counts(seeds, 9, str(p.parent), seed=0, task="trec", expect_seed=0)
    aug = eda_augment(seeds, counts, seed=0)
    assert len(aug) == 15
    got = Counter(a.parent_id for a in aug)
    assert [got.get(s.id, 0) for s in seeds] == counts
    assert all(a.answer == next(s for s in seeds if s.id == a.parent_id).answer for a in aug)


@pytest.mark.slow
def test_budget_from_a_real_llm2llm_run(finished_run):
    """The tiny end-to-end `python train.py method=llm2llm` run (tests/e2e_run.py), then EDA matched
    to its results.json."""
    from llm2llm.example import read_examples

    run = finished_run[0] / "run"
    budget = read_budget(run, expect_task="sst2", expect_seed=0)
    results = json.loads((run / "results.json").read_text())
    assert budget.total == results["total_augmented"] == sum(it["added"] for it in results["iterations"]) > 0
    seeds = read_examples(run / "seed_set.jsonl")
    counts = per_seed_counts(seeds, 9, str(run), seed=0, task="sst2", expect_seed=0)
    aug = eda_augment(seeds, counts, seed=0)
    assert len(aug) == budget.total
    assert all(a.answer == next(s for s in seeds if s.id == a.parent_id).answer for a in aug)
