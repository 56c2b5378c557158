"""S2L: the pure selection (budget, clusters, smallest first, seeds), the loss cache, and a real proxy."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from baseline_fixtures import ROOT, FakeStudent, load, smollm2_student_cfg, tiny_trainer_cfg
from baselines.s2l import (allocate, cluster_trajectories, loss_trajectories, s2l_select, s2l_selection,
                           select_by_trajectories)
from llm2llm.errors import ConfigError, DataError
from llm2llm.example import Example


def blobs(sizes, dim=3, seed=0, spread=0.05):
    """Well-separated clusters of the given sizes (shuffled), and each row's true cluster."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for c, n in enumerate(sizes):
        centre = np.full(dim, 2.0 * c) + np.arange(dim) * (c % 2)
        rows.append(centre + rng.normal(0, spread, size=(n, dim)))
        truth += [c] * n
    perm = rng.permutation(sum(sizes))
    return np.vstack(rows)[perm], np.array(truth)[perm]


# ------------------------------------------------------------------------------- pure part

def test_recovers_clusters_and_goes_smallest_first():
    t, truth = blobs([3, 6, 12, 30])
    sel = s2l_selection(t, budget=20, n_clusters=4, seed=0)
    # the clustering found the four blobs
    assert sorted(sel.cluster_sizes.values()) == [3, 6, 12, 30]
    assert len({(int(a), int(b)) for a, b in zip(sel.labels, truth)}) == 4
    # shares, smallest first: ceil(20/4)=5 > 3 -> all 3; ceil(17/3)=6 -> all 6; ceil(11/2)=6 of 12; 5 of 30
    by_size = {sel.cluster_sizes[c]: sel.taken[c] for c in sel.taken}
    assert by_size == {3: 3, 6: 6, 12: 6, 30: 5}
    assert [sel.cluster_sizes[c] for c in sel.order] == [3, 6, 12, 30]
    picked = Counter(truth[sel.indices])
    assert sorted(picked.values()) == [3, 5, 6, 6]


@pytest.mark.parametrize("budget", [0, 1, 3, 4, 7, 20, 50, 51])
def test_budget_met_exactly_and_every_cluster_represented(budget):
    t, _ = blobs([3, 6, 12, 30], seed=1)
    idx = select_by_trajectories(t, budget, n_clusters=4, seed=0)
    assert len(idx) == budget == len(set(idx))
    assert idx == sorted(idx) and all(0 <= i < len(t) for i in idx)
    labels = cluster_trajectories(t, 4, seed=0)
    if budget >= 4:
        assert set(labels[idx]) == set(labels)
    elif budget:
        # fewer picks than clusters: the smallest clusters come first
        sizes = Counter(labels.tolist())
        got = {sizes[l] for l in labels[idx]}
        assert got == set(sorted(sizes.values())[:budget])


def test_budget_exact_on_random_trajectories_for_many_settings():
    rng = np.random.default_rng(0)
    for trial in range(30):
        n = int(rng.integers(5, 60))
        t = rng.gamma(2.0, 1.0, size=(n, int(rng.integers(1, 5))))
        k = int(rng.integers(1, 8))
        budget = int(rng.integers(0, n + 1))
        sel = s2l_selection(t, budget, k, seed=trial)
        assert len(sel.indices) == budget == len(set(sel.indices))
        if budget >= len(sel.cluster_sizes):
            assert all(v >= 1 for v in sel.taken.values())
        # within each cluster, never more than it has
        assert all(sel.taken[c] <= sel.cluster_sizes[c] for c in sel.taken)


def test_allocation_gives_a_small_cluster_everything_and_respreads_the_rest():
    labels = [0] * 2 + [1] * 10 + [2] * 10
    sel = allocate(labels, budget=12, seed=0)
    assert sel.taken == {0: 2, 1: 5, 2: 5}
    sel = allocate(labels, budget=13, seed=0)  # ceil rounding favours the smaller clusters
    assert sel.taken[0] == 2 and sorted([sel.taken[1], sel.taken[2]]) == [5, 6]
    assert allocate(labels, budget=22, seed=0).indices == list(range(22))


def test_same_seed_same_selection_and_seeds_differ():
    t, _ = blobs([10, 20, 40], seed=2)
    a = select_by_trajectories(t, 15, 3, seed=0)
    assert a == select_by_trajectories(t, 15, 3, seed=0)
    others = {tuple(select_by_trajectories(t, 15, 3, seed=s)) for s in range(1, 6)}
    assert len(others | {tuple(a)}) > 1


def test_bad_inputs():
    t, _ = blobs([5, 5])
    with pytest.raises(ConfigError, match="outside"):
        select_by_trajectories(t, 11, 2, 0)
    with pytest.raises(ConfigError, match="n_clusters"):
        select_by_trajectories(t, 3, 0, 0)
    bad = t.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        select_by_trajectories(bad, 3, 2, 0)
    # fewer distinct trajectories than clusters: no crash, budget still met
    same = np.ones((6, 2))
    assert len(select_by_trajectories(same, 4, 3, 0)) == 4
    # a single checkpoint (1-D) is a one-column matrix
    assert len(select_by_trajectories(np.arange(10.0), 4, 2, 0)) == 4


# ------------------------------------------------------------- loss cache (fake proxy model)

def _pool(n=24):
    return [Example(id=f"p{i}", text="x" * (5 + i), answer="positive", origin="pool") for i in range(n)]


def test_loss_trajectories_cache_and_resume(tmp_path):
    student = FakeStudent()
    pool = _pool()
    t = loss_trajectories(student, pool, tmp_path, checkpoints=3)
    assert t.shape == (24, 3)
    assert student.train_calls == 1 and student.loss_calls == ["ckpt-0", "ckpt-1", "ckpt-2"]
    for i in range(3):
        d = json.loads((tmp_path / "losses" / f"ckpt-{i}.json").read_text())
        assert d["ids"] == [e.id for e in pool] and len(d["losses"]) == 24
    assert np.array_equal(np.load(tmp_path / "trajectories.npy"), t)
    # second call: nothing recomputed
    again = FakeStudent()
    assert np.array_equal(loss_trajectories(again, pool, tmp_path, 3), t)
    assert again.train_calls == 0 and again.loss_calls == []
    # a lost/garbled column is recomputed alone
    (tmp_path / "losses" / "ckpt-1.json").write_text("{garbled")
    third = FakeStudent()
    assert np.array_equal(loss_trajectories(third, pool, tmp_path, 3), t)
    assert third.loss_calls == ["ckpt-1"]
    # another pool in the same work dir is refused
    with pytest.raises(DataError, match="another pool"):
        loss_trajectories(FakeStudent(), pool[:-1], tmp_path, 3)
    with pytest.raises(DataError, match="another pool"):
        loss_trajectories(FakeStudent(), pool, tmp_path, 4)


def test_s2l_select_with_fake_proxy(tmp_path):
    pool = _pool(30)
    chosen = s2l_select(pool, 9, FakeStudent(), tmp_path, n_clusters=3, checkpoints=3, seed=0)
    assert len(chosen) == 9 and len({e.id for e in chosen}) == 9
    assert [e.id for e in chosen] == [e.id for e in pool if e.id in {c.id for c in chosen}]  # pool order
    rec = json.loads((tmp_path / "selection-b9-k3-s0.json").read_text())
    assert rec["ids"] == [e.id for e in chosen] and len(rec["taken"]) == 3 and min(rec["taken"].values()) >= 1
    assert chosen == s2l_select(pool, 9, FakeStudent(), tmp_path, n_clusters=3, checkpoints=3, seed=0)
    with pytest.raises(ConfigError, match="outside"):
        s2l_select(pool, 31, FakeStudent(), tmp_path, 3, 3, 0)


def test_proxy_with_too_few_checkpoints_is_an_error(tmp_path):
    class Short(FakeStudent):
        def train(self, examples, out_dir, init_from=None, checkpoints=0):
            return super().train(examples, out_dir, init_from, checkpoints - 1)

    with pytest.raises(DataError, match="saved 2 trajectory checkpoints, expected 3"):
        loss_trajectories(Short(), _pool(), tmp_path, 3)


# ---------------------------------------------------------------- the real proxy (SmolLM2)

class Counting:
    """Wraps a real Student and counts the calls that cost model time."""

    def __init__(self, student):
        self.student = student
        self.train_calls = 0
        self.loss_calls = 0

    def train(self, *a, **kw):
        self.train_calls += 1
        return self.student.train(*a, **kw)

    def example_losses(self, *a, **kw):
        self.loss_calls += 1
        return self.student.example_losses(*a, **kw)


@pytest.mark.slow
def test_s2l_on_a_real_sst2_pool_with_the_real_small_model(tmp_path, data_dir, cache_dir):
    from llm2llm.student import Student

    task, pool = load("sst2", data_dir, n=24, start=100)
    pool = [e.derive(origin="pool") for e in pool]
    student = Student(smollm2_student_cfg(), tiny_trainer_cfg(max_steps=3, batch=8), task, str(cache_dir), seed=0)
    try:
        proxy = Counting(student)
        t = loss_trajectories(proxy, pool, tmp_path / "s2l", checkpoints=3)
        assert t.shape == (24, 3) and np.isfinite(t).all()
        assert proxy.train_calls == 1 and proxy.loss_calls == 3
        # training moved the losses: the trajectories are not flat
        assert np.abs(t[:, 0] - t[:, -1]).max() > 1e-3
        assert len(list((tmp_path / "s2l" / "proxy" / "trajectory").glob("ckpt-*"))) == 3

        sel = s2l_selection(t, budget=8, n_clusters=3, seed=0)
        assert len(sel.indices) == 8 and set(sel.taken) == set(sel.cluster_sizes)
        assert all(v >= 1 for v in sel.taken.values())  # every cluster represented

        again = Counting(student)
        chosen = s2l_select(pool, 8, again, tmp_path / "s2l", n_clusters=3, checkpoints=3, seed=0)
        assert again.train_calls == 0 and again.loss_calls == 0  # cached losses reused
        assert [e.id for e in chosen] == [pool[i].id for i in sel.indices]  # same seed, same selection
    finally:
        student.release()


@pytest.mark.slow
def test_s2l_trains_its_proxy_model_not_the_student(tmp_path, data_dir):
    """method.proxy_model: the selection fine-tunes the small proxy (here a tiny random Llama), never the student."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from llm2llm.config import Config, MethodConfig, StudentConfig, TaskConfig, TrainerConfig
    from llm2llm.methods import get_method
    from llm2llm.models import load_tokenizer, resolve_model
    from llm2llm.student import Student

    smollm2 = resolve_model("embedded:smollm2-135m-instruct", str(ROOT / ".cache" / "llm2llm"))
    tok = load_tokenizer(smollm2)
    torch.manual_seed(0)
    proxy_dir = tmp_path / "tiny-proxy"
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=1, pad_token_id=tok.pad_token_id,
                                 bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)).save_pretrained(proxy_dir)
    tok.save_pretrained(proxy_dir)
    cfg = Config(task=TaskConfig(name="sst2", seed_size=4), seed=0,
                 student=StudentConfig(name="student", model=smollm2, dtype="float32", max_length=128),
                 method=MethodConfig(name="s2l", pool_size=12, budget=4, n_clusters=2, proxy_checkpoints=2,
                                     proxy_model=str(proxy_dir)),
                 trainer=TrainerConfig(name="t", max_steps=2, per_device_batch_size=4, bf16="false", warmup_ratio=0.0))
    task, train = load("sst2", data_dir, n=200)
    student = Student(cfg.student, cfg.trainer, task, str(tmp_path), seed=0)
    chosen = get_method("s2l").seeds(cfg, train, train[:4], student, tmp_path / "s2l")
    assert len(chosen) == 4 and {e.id for e in chosen} <= {e.id for e in train}
    trajectory = sorted((tmp_path / "s2l" / "proxy" / "trajectory").glob("ckpt-*"))
    assert len(trajectory) == 2
    trained = json.loads((trajectory[-1] / "config.json").read_text())
    assert trained["hidden_size"] == 32  # the proxy's checkpoints, fully fine-tuned (no LoRA adapter)
    assert not (trajectory[-1] / "adapter_config.json").exists()
    assert student._loaded is None  # the student was never loaded, let alone trained
