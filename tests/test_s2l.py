"""S2L: the pure selection (budget, clusters, smallest first, seeds), the loss cache, and a real proxy."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from baseline_fixtures import FakeStudent, load, smollm2_student_cfg, tiny_trainer_cfg
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

def test_kmeans_has_one_random_start_like_faiss():
    """faiss.Kmeans as S2L calls it: k rows drawn at random as the first centroids, 20 Lloyd steps, one
    start. Three equal, well-separated blobs: most seeds find them, a few merge two (a bad start is kept)."""
    t, truth = blobs([10, 10, 10])
    found = [sorted(Counter(cluster_trajectories(t, 3, seed=s).tolist()).values()) == [10, 10, 10] for s in range(40)]
    assert 20 <= sum(found) < 40


def test_recovers_clusters_and_goes_smallest_first():
    t, truth = blobs([3, 6, 12, 30])
    # one random start finds these four skewed blobs for a few seeds only (6 of the first 60): 11 is one
    sel = s2l_selection(t, budget=20, n_clusters=4, seed=11)
    # the clustering found the four blobs
    assert sorted(sel.cluster_sizes.values()) == [3, 6, 12, 30]
    assert len({(int(a), int(b)) for a, b in zip(sel.labels, truth)}) == 4
    # shares, smallest first: 20//4=5 >= 3 -> all 3, 17 left; 17//3=5 < 6 -> 5, 12 left; 12//2=6 of 12; 6//1=6 of 30
    by_size = {sel.cluster_sizes[c]: sel.taken[c] for c in sel.taken}
    assert by_size == {3: 3, 6: 5, 12: 6, 30: 6}
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
        # fewer picks than clusters: n // (clusters left) is 0 until the last `budget` clusters, the largest
        sizes = Counter(labels.tolist())
        got = {sizes[l] for l in labels[idx]}
        assert got == set(sorted(sizes.values())[-budget:])


def test_budget_exact_on_random_trajectories_for_many_settings():
    rng = np.random.default_rng(0)
    for trial in range(30):
        n = int(rng.integers(5, 60))
        t = rng.gamma(2.0, 1.0, size=(n, int(rng.integers(1, 5))))
        k = int(rng.integers(1, 8))
        budget = int(rng.integers(0, n + 1))
        sel = s2l_selection(t, budget, k, seed=trial)
        assert len(sel.indices) == budget == len(set(sel.indices))
        # within each cluster, never more than it has
        assert all(sel.taken[c] <= sel.cluster_sizes[c] for c in sel.taken)
    # the allocation alone, many cluster layouts: the budget is always met (S2L's rule never runs dry)
    for trial in range(300):
        sizes = rng.integers(1, 12, size=int(rng.integers(1, 9)))
        labels = np.repeat(np.arange(len(sizes)), sizes)
        budget = int(rng.integers(0, len(labels) + 1))
        sel = allocate(labels.tolist(), budget, seed=trial)
        assert len(sel.indices) == budget == len(set(sel.indices))


def test_s2l_sampling_rule_on_a_hand_checked_example():
    """S2L's rule (schedules/s2l.py, faiss_kmeans_selection), worked out by hand below."""
    # 20 examples in five clusters: label 0 has 9, label 1 has 1, label 2 has 3, label 3 has 2, label 4 has 5.
    labels = [0] * 9 + [1] + [2] * 3 + [3] * 2 + [4] * 5
    # Budget 10. Clusters of more than two examples, smallest first: 2 (3), 4 (5), 0 (9); 1 and 3 wait.
    #   cluster 2: 10 // 3 = 3, it has 3 (not more)  -> all 3, 7 left
    #   cluster 4:  7 // 2 = 3, it has 5 > 3         -> 3 at random, 4 left
    #   cluster 0:  4 // 1 = 4, it has 9 > 4         -> 4 at random, 0 left
    #   nothing is left for clusters 1 and 3.
    sel = allocate(labels, 10, seed=0)
    assert sel.order == [2, 4, 0, 1, 3]
    assert sel.taken == {2: 3, 4: 3, 0: 4, 1: 0, 3: 0}
    assert set(range(10, 13)) <= set(sel.indices)  # all of cluster 2 (indices 10-12)
    # Budget 19, one short of the pool:
    #   cluster 2: 19 // 3 = 6 >= 3 -> all 3, 16 left; cluster 4: 16 // 2 = 8 >= 5 -> all 5, 11 left;
    #   cluster 0: 11 // 1 = 11 >= 9 -> all 9, 2 left -> 2 drawn at random from the 3 examples of
    #   clusters 1 and 3 together (indices 9, 13, 14).
    sel = allocate(labels, 19, seed=0)
    assert (sel.taken[2], sel.taken[4], sel.taken[0]) == (3, 5, 9) and sel.taken[1] + sel.taken[3] == 2
    (left_out,) = set(range(20)) - set(sel.indices)
    assert left_out in (9, 13, 14)
    assert {tuple(allocate(labels, 19, seed=s).indices) for s in range(20)} == \
        {tuple(sorted(set(range(20)) - {i})) for i in (9, 13, 14)}  # each of the three can be the one left out
    # Floor shares: three clusters of 4, budget 8 -> 8 // 3 = 2, then 6 // 2 = 3, then 3 // 1 = 3; ties in
    # size are visited in the order of their first example, so the first cluster takes the smaller share.
    assert allocate([0] * 4 + [1] * 4 + [2] * 4, 8, seed=0).taken == {0: 2, 1: 3, 2: 3}
    assert allocate([2] * 4 + [1] * 4 + [0] * 4, 8, seed=0).taken == {2: 2, 1: 3, 0: 3}
    # Only clusters of one or two: everything is a random draw from them.
    assert len(allocate([0, 0, 1, 2, 2], 3, seed=0).indices) == 3


def test_within_a_cluster_the_draw_is_random_and_seeded():
    labels = [0] * 10 + [1] * 10
    # 6 // 2 = 3 from each cluster
    picks = {tuple(allocate(labels, 6, seed=s).indices) for s in range(10)}
    assert len(picks) > 5  # the draw changes with the seed
    assert allocate(labels, 6, seed=3).indices == allocate(labels, 6, seed=3).indices
    assert all(sum(i < 10 for i in p) == 3 for p in picks)


def test_trajectory_steps():
    from llm2llm.student.train import trajectory_steps

    # S2L: a save every 500 steps, the last 12 kept
    assert trajectory_steps(7000, 12, 500) == list(range(1500, 7001, 500))
    assert trajectory_steps(1400, 12, 500) == [500, 1000]
    assert trajectory_steps(400, 12, 500) == []
    # evenly spaced, the last one the final model
    assert trajectory_steps(24, 3) == [8, 16, 24]
    assert trajectory_steps(2, 3) == [1, 2]


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


class EverySteps(FakeStudent):
    """A fake proxy run of ``steps`` optimizer steps saving like S2L: every save_every steps, the last n kept."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps
        self.saves: list[int] = []

    def train(self, examples, out_dir, init_from=None, checkpoints=0, save_every=0):
        from llm2llm.student.train import trajectory_steps

        self.saves = trajectory_steps(self.steps, checkpoints, save_every)
        return super().train(examples, out_dir, init_from, len(self.saves))


def test_saves_every_n_steps_keep_the_last_ones(tmp_path):
    proxy = EverySteps(steps=3200)  # saves at 500..3000: 6 of them, the last 4 kept
    t = loss_trajectories(proxy, _pool(), tmp_path / "a", checkpoints=4, save_every=500, settings={"lr": 2e-5})
    assert proxy.saves == [1500, 2000, 2500, 3000] and t.shape == (24, 4)
    again = EverySteps(steps=3200)  # cached: the count of saved checkpoints is remembered
    assert np.array_equal(loss_trajectories(again, _pool(), tmp_path / "a", 4, save_every=500, settings={"lr": 2e-5}), t)
    assert again.train_calls == 0 and again.loss_calls == []
    with pytest.raises(DataError, match="another pool or proxy"):
        loss_trajectories(EverySteps(3200), _pool(), tmp_path / "a", 4, save_every=500, settings={"lr": 1e-4})
    # a short run saves fewer (as S2L: whatever was saved), none is an error naming the fix
    with pytest.warns(UserWarning, match="saved 2 checkpoints"):
        assert loss_trajectories(EverySteps(1200), _pool(), tmp_path / "b", 12, save_every=500).shape == (24, 2)
    with pytest.raises(DataError, match="shorter than method.proxy.save_every=500"):
        loss_trajectories(EverySteps(499), _pool(), tmp_path / "c", 12, save_every=500)


def test_nan_losses_become_zero_as_in_s2l(tmp_path):
    class NaNs(FakeStudent):
        def example_losses(self, ckpt, examples):
            out = super().example_losses(ckpt, examples)
            return [float("nan") if e.id == "p3" else x for e, x in zip(examples, out)]

    with pytest.warns(UserWarning, match="count as 0"):
        t = loss_trajectories(NaNs(), _pool(), tmp_path, 3)
    assert (t[3] == 0).all() and (t[[0, 1, 2, 4]] > 0).all()


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
        # every cluster of more than two examples is represented (S2L fills those of one or two last)
        assert all(sel.taken[c] >= 1 for c in sel.order if sel.cluster_sizes[c] > 2)

        again = Counting(student)
        chosen = s2l_select(pool, 8, again, tmp_path / "s2l", n_clusters=3, checkpoints=3, seed=0)
        assert again.train_calls == 0 and again.loss_calls == 0  # cached losses reused
        assert [e.id for e in chosen] == [pool[i].id for i in sel.indices]  # same seed, same selection
    finally:
        student.release()


@pytest.mark.slow
def test_s2l_trains_its_proxy_model_not_the_student(tmp_path, data_dir, smollm2_path):
    """method.proxy: the selection fine-tunes the small proxy (here a tiny random Llama: Pythia-70M is not
    available offline) with the proxy's own recipe, never the student and never with the student's trainer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from llm2llm.config import Config, ProxyConfig, StudentConfig, TaskConfig, TrainerConfig
    from llm2llm.methods.s2l import S2LConfig
    from llm2llm.methods import get_method
    from llm2llm.models import load_tokenizer
    from llm2llm.student import Student

    tok = load_tokenizer(smollm2_path)
    torch.manual_seed(0)
    proxy_dir = tmp_path / "tiny-proxy"
    LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=1, pad_token_id=tok.pad_token_id,
                                 bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)).save_pretrained(proxy_dir)
    tok.save_pretrained(proxy_dir)
    proxy = ProxyConfig(model=str(proxy_dir), learning_rate=3e-3, warmup_ratio=0.0, max_steps=2, per_device_batch_size=4,
                        gradient_accumulation_steps=1, bf16="false", save_every=None, n_checkpoints=2, max_length=128)
    cfg = Config(task=TaskConfig(name="sst2", seed_size=4), seed=0,
                 student=StudentConfig(name="student", model=smollm2_path, dtype="float32", max_length=128),
                 method=S2LConfig(name="s2l", pool_size=12, budget=4, n_clusters=2, proxy=proxy),
                 trainer=TrainerConfig(name="t", learning_rate=1e-4, max_steps=5, per_device_batch_size=8, bf16="false",
                                       warmup_ratio=0.0))
    task, train = load("sst2", data_dir, n=200)
    student = Student(cfg.student, cfg.trainer, task, str(tmp_path), seed=0)
    chosen = get_method("s2l").seeds(cfg, train, train[:4], student, tmp_path / "s2l")
    assert len(chosen) == 4 and {e.id for e in chosen} <= {e.id for e in train}
    trajectory = sorted((tmp_path / "s2l" / "proxy" / "trajectory").glob("ckpt-*"))
    assert len(trajectory) == 2
    trained = json.loads((trajectory[-1] / "config.json").read_text())
    assert trained["hidden_size"] == 32  # the proxy's checkpoints, fully fine-tuned (no LoRA adapter)
    assert not (trajectory[-1] / "adapter_config.json").exists()
    # the proxy's own recipe (lr 3e-3, 2 steps of 4), not the student's trainer (lr 1e-4, 5 steps of 8)
    summary = json.loads((tmp_path / "s2l" / "proxy" / "training.json").read_text())
    assert summary["max_lr"] == pytest.approx(3e-3) and summary["optimizer_updates"] == 2
    assert json.loads((tmp_path / "s2l" / "pool.json").read_text())["proxy"]["learning_rate"] == 3e-3
    assert student._loaded is None  # the student was never loaded, let alone trained
