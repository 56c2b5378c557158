"""SmallToLarge (S2L, Yang et al. 2024): data selection by clustering a proxy model's loss trajectories.

As the public code runs it (BigML-CS-UCLA/S2L: configs/pythia-70m-deduped_checkpoints.yml,
schedules/s2l.py, get_trajectories.py):

1. Fully fine-tune a small proxy model on the whole candidate pool (its own recipe:
   ``method.proxy``), saving a checkpoint every ``save_every`` optimizer steps and keeping the last
   ``n_checkpoints`` (S2L: every 500 steps, the last 12); or, for short CPU runs, ``n_checkpoints``
   evenly spaced ones.
2. Record every example's loss (mean over its target tokens) at each kept checkpoint: a trajectory
   matrix with one row per example and one column per checkpoint. A loss that is NaN becomes 0
   (S2L's rule).
3. K-means the trajectories into K clusters, K = ``n_clusters`` (S2L: 100) capped by the number of
   distinct rows, randomly initialised from the rows, ``kmeans_iterations`` (S2L: 20) Lloyd steps,
   one start (faiss.Kmeans' defaults; scikit-learn's KMeans here, seeded).
4. Spend the budget n over the clusters of more than two examples, smallest first (ties: the
   cluster whose first member comes first in the pool): each takes n // (clusters still to visit)
   of its examples at random, or all of them when it has no more than that, and n shrinks by what
   it took. Whatever is left is drawn at random from the union of the clusters of one or two
   examples. The draws use a generator seeded with the run seed (S2L draws from numpy's global one).

The pure part (3-4: :func:`select_by_trajectories`) needs no model. The model part (1-2:
:func:`loss_trajectories`) caches each checkpoint's losses under ``work_dir/losses/`` so a resumed
or repeated call trains nothing and scores nothing again. :func:`s2l_select` puts both together;
it serves as the S2L baseline (select the training set from a larger pool) and as LLM2LLM's
``task.seed_selection=s2l`` (select the seed set).
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from llm2llm.errors import ConfigError, DataError
from llm2llm.example import Example, atomic_write_json

# ------------------------------------------------------------------------------ pure selection


@dataclass
class Selection:
    """The outcome of an S2L selection (indices into the pool, sorted)."""

    indices: list[int]
    labels: list[int]                      # cluster of every pool example
    cluster_sizes: dict[int, int]
    taken: dict[int, int]                  # examples selected per cluster
    order: list[int] = field(default_factory=list)  # clusters in the order they were visited

    def to_dict(self) -> dict[str, Any]:
        return {"indices": self.indices, "labels": self.labels,
                "cluster_sizes": {str(k): v for k, v in self.cluster_sizes.items()},
                "taken": {str(k): v for k, v in self.taken.items()}, "order": self.order}


def _check_trajectories(trajectories: Any) -> np.ndarray:
    t = np.asarray(trajectories, dtype=np.float64)
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"trajectories must be a non-empty (examples x checkpoints) matrix, got shape {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError("trajectories contain NaN or infinite losses")
    return t


def cluster_trajectories(trajectories: Any, n_clusters: int, seed: int, iterations: int = 20) -> np.ndarray:
    """K-means labels (0..k-1) of every row; k = min(n_clusters, number of distinct rows).

    Like faiss.Kmeans as S2L calls it: centroids start at k rows drawn at random, ``iterations``
    Lloyd steps, one start."""
    from sklearn.cluster import KMeans

    t = _check_trajectories(trajectories)
    if n_clusters < 1:
        raise ConfigError(f"method.n_clusters: must be >= 1, got {n_clusters}")
    if iterations < 1:
        raise ConfigError(f"method.kmeans_iterations: must be >= 1, got {iterations}")
    k = min(n_clusters, len(np.unique(t, axis=0)))
    if k == 1:
        return np.zeros(len(t), dtype=int)
    km = KMeans(n_clusters=k, init="random", n_init=1, max_iter=iterations, tol=0.0, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on near-duplicate rows
        labels = km.fit_predict(t)
    # Renumber clusters by their first member so labels do not depend on K-means' numbering.
    _, first = np.unique(labels, return_index=True)
    remap = {int(labels[i]): r for r, i in enumerate(sorted(first))}
    return np.array([remap[int(l)] for l in labels], dtype=int)


#: clusters of at most this many examples are only drawn from after the larger ones (S2L)
SMALL_CLUSTER = 2


def allocate(labels: Sequence[int], budget: int, seed: int) -> Selection:
    """Spend ``budget`` across the clusters in ``labels`` by S2L's rule (module docstring, step 4)."""
    labels = [int(l) for l in labels]
    n = len(labels)
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise ConfigError(f"S2L budget must be a whole number, got {budget!r}")
    budget = int(budget)
    if not 0 <= budget <= n:
        raise ConfigError(f"S2L budget {budget} is outside [0, {n}] (the candidate pool has {n} examples)")
    members: dict[int, list[int]] = {}
    for i, l in enumerate(labels):
        members.setdefault(l, []).append(i)
    by_size = sorted(members, key=lambda c: (len(members[c]), members[c][0]))
    large = [c for c in by_size if len(members[c]) > SMALL_CLUSTER]
    small = [c for c in by_size if len(members[c]) <= SMALL_CLUSTER]
    rng = np.random.default_rng(seed)
    taken: dict[int, list[int]] = {c: [] for c in by_size}
    left = budget
    for pos, c in enumerate(large):
        share = left // (len(large) - pos)
        m = members[c]
        pick = list(m) if len(m) <= share else [int(x) for x in rng.choice(m, size=share, replace=False)]
        taken[c] = sorted(pick)
        left -= len(pick)
    if left > 0:
        rest = sorted(i for c in small for i in members[c])
        if left > len(rest):  # pragma: no cover - cannot happen when budget <= pool (checked above)
            raise AssertionError(f"S2L allocation: {left} left for {len(rest)} examples in small clusters")
        for i in rng.choice(rest, size=left, replace=False):
            taken[labels[int(i)]].append(int(i))
    indices = sorted(i for c in by_size for i in taken[c])
    return Selection(indices=indices, labels=labels, cluster_sizes={c: len(members[c]) for c in by_size},
                     taken={c: len(taken[c]) for c in by_size}, order=large + small)


def s2l_selection(trajectories: Any, budget: int, n_clusters: int, seed: int, iterations: int = 20) -> Selection:
    """Cluster the trajectories and allocate the budget: the full :class:`Selection`."""
    t = _check_trajectories(trajectories)
    if not 0 <= budget <= len(t):
        raise ConfigError(f"S2L budget {budget} is outside [0, {len(t)}] (the candidate pool has {len(t)} examples)")
    return allocate(cluster_trajectories(t, n_clusters, seed, iterations), budget, seed)


def select_by_trajectories(trajectories: Any, budget: int, n_clusters: int, seed: int, iterations: int = 20) -> list[int]:
    """Indices (sorted) of the ``budget`` pool rows S2L selects from a loss-trajectory matrix."""
    return s2l_selection(trajectories, budget, n_clusters, seed, iterations).indices


# -------------------------------------------------------------------------------- model part

def pool_fingerprint(pool: Sequence[Example]) -> str:
    h = hashlib.sha256()
    for e in pool:
        h.update(json.dumps([e.id, e.text, e.answer, list(e.choices) if e.choices else None],
                            ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def trajectory_checkpoints(proxy_dir: Path) -> list[Path]:
    """``proxy_dir/trajectory/ckpt-<i>`` folders in training order."""
    tdir = Path(proxy_dir) / "trajectory"
    found = [p for p in tdir.glob("ckpt-*") if p.is_dir() and re.fullmatch(r"ckpt-\d+", p.name)]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def _read_cached(path: Path, ids: list[str]) -> list[float] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None  # a torn/garbled file: recompute it
    if data.get("ids") != ids or len(data.get("losses", [])) != len(ids):
        return None
    return [float(x) for x in data["losses"]]


def loss_trajectories(student: Any, pool: Sequence[Example], work_dir: str | Path, checkpoints: int,
                      save_every: int = 0, settings: dict[str, Any] | None = None) -> np.ndarray:
    """The (len(pool) x kept checkpoints) loss-trajectory matrix of a proxy fine-tuned on ``pool``.

    ``checkpoints`` evenly spaced checkpoints (``save_every`` = 0; exactly that many must be saved),
    or the last ``checkpoints`` of the saves every ``save_every`` steps (at least one; fewer when
    the run is short, as in S2L). ``settings`` (the proxy's model and recipe) is recorded and must
    match on reuse.

    Layout under ``work_dir``: ``pool.json`` (what was trained on, with what), ``proxy/`` (the proxy run,
    ``proxy/trajectory/ckpt-<i>``), ``losses/ckpt-<i>.json`` (per checkpoint: ids and losses),
    ``trajectories.npy``. Cached losses are reused; the proxy is only trained (or its finished
    run reopened) when some checkpoint's losses are missing. A ``work_dir`` that holds a different
    pool or proxy raises DataError instead of mixing two pools' results.
    """
    if checkpoints < 1:
        raise ConfigError(f"method.proxy.n_checkpoints: must be >= 1, got {checkpoints}")
    if save_every < 0:
        raise ConfigError(f"method.proxy.save_every: must be >= 1 or null, got {save_every}")
    pool = list(pool)
    if not pool:
        raise ConfigError("S2L: the candidate pool is empty")
    ids = [e.id for e in pool]
    if len(set(ids)) != len(ids):
        raise DataError("S2L: the candidate pool has duplicate example ids")
    work_dir = Path(work_dir)
    fp = pool_fingerprint(pool)
    manifest = work_dir / "pool.json"
    want = {"fingerprint": fp, "n": len(pool), "checkpoints": checkpoints, "save_every": save_every,
            "proxy": settings or {}}
    record: dict[str, Any] = {**want, "ids": ids}
    if manifest.is_file():
        old = json.loads(manifest.read_text(encoding="utf-8"))
        if any(old.get(k, 0 if k == "save_every" else {} if k == "proxy" else None) != v for k, v in want.items()):
            raise DataError(
                f"{work_dir}: holds S2L results for another pool or proxy ({old.get('n')} examples, "
                f"{old.get('checkpoints')} checkpoints, save_every {old.get('save_every', 0)}; now {len(pool)}, "
                f"{checkpoints}, {save_every}); use a fresh work directory"
            )
        record = {**old, **record}
    else:
        atomic_write_json(manifest, record)
    loss_dir = work_dir / "losses"
    saved = record.get("saved", checkpoints if not save_every else None)
    cols: list[list[float] | None] = [_read_cached(loss_dir / f"ckpt-{i}.json", ids) for i in range(saved or 0)]
    if saved is None or any(c is None for c in cols):
        proxy_dir = work_dir / "proxy"
        student.train(pool, proxy_dir, checkpoints=checkpoints, **({"save_every": save_every} if save_every else {}))
        ckpts = trajectory_checkpoints(proxy_dir)
        if not save_every and len(ckpts) != checkpoints:
            raise DataError(
                f"{proxy_dir}: the proxy run saved {len(ckpts)} trajectory checkpoints, expected {checkpoints} "
                "(too few training steps? lower method.proxy.n_checkpoints or train longer)"
            )
        if save_every and not ckpts:
            raise DataError(
                f"{proxy_dir}: the proxy run was shorter than method.proxy.save_every={save_every} optimizer steps and "
                "saved no checkpoint; lower method.proxy.save_every, or set it to null for "
                "method.proxy.n_checkpoints evenly spaced checkpoints"
            )
        if save_every and len(ckpts) < checkpoints:
            warnings.warn(f"S2L: the proxy run saved {len(ckpts)} checkpoints (every {save_every} steps), fewer than "
                          f"method.proxy.n_checkpoints={checkpoints}: the trajectories have {len(ckpts)} points")
        if saved != len(ckpts):
            cols = [_read_cached(loss_dir / f"ckpt-{i}.json", ids) for i in range(len(ckpts))]
            record["saved"] = len(ckpts)
            atomic_write_json(manifest, record)
        for i, c in enumerate(cols):
            if c is not None:
                continue
            losses = [float(x) for x in student.example_losses(ckpts[i], pool)]
            if len(losses) != len(pool):
                raise AssertionError(f"example_losses returned {len(losses)} losses for {len(pool)} examples")
            atomic_write_json(loss_dir / f"ckpt-{i}.json",
                              {"checkpoint": str(ckpts[i]), "ids": ids, "losses": losses})
            cols[i] = losses
    t = np.array(cols, dtype=np.float64).T  # rows: examples, columns: checkpoints
    bad = ~np.isfinite(t)
    if bad.any():
        # S2L sets NaN losses to 0 (an example whose target was truncated away has no loss).
        warnings.warn(f"S2L: {int(bad.any(axis=1).sum())} pool example(s) have no finite loss "
                      "(target truncated?); their missing losses count as 0, as in S2L")
        t[bad] = 0.0
    np.save(work_dir / "trajectories.npy", t)
    return t


def s2l_select(pool: Sequence[Example], budget: int, student: Any, work_dir: str | Path, n_clusters: int = 100,
               checkpoints: int = 12, seed: int = 0, save_every: int = 0, kmeans_iterations: int = 20,
               settings: dict[str, Any] | None = None) -> list[Example]:
    """Select ``budget`` examples of ``pool`` with S2L, using ``student`` as the proxy model.

    The examples are returned unchanged, in pool order. The selection (indices, ids, cluster of
    every pool example, per-cluster counts) is written to
    ``work_dir/selection-b<budget>-k<n_clusters>-s<seed>.json``.
    """
    pool = list(pool)
    if not 0 <= budget <= len(pool):
        raise ConfigError(f"S2L budget {budget} is outside [0, {len(pool)}] (the candidate pool has {len(pool)} examples)")
    t = loss_trajectories(student, pool, work_dir, checkpoints, save_every=save_every, settings=settings)
    sel = s2l_selection(t, budget, n_clusters, seed, kmeans_iterations)
    atomic_write_json(Path(work_dir) / f"selection-b{budget}-k{n_clusters}-s{seed}.json",
                      {**sel.to_dict(), "ids": [pool[i].id for i in sel.indices], "budget": budget,
                       "n_clusters": n_clusters, "kmeans_iterations": kmeans_iterations, "seed": seed,
                       "checkpoints": int(t.shape[1]), "save_every": save_every})
    return [pool[i] for i in sel.indices]


__all__ = ["Selection", "SMALL_CLUSTER", "cluster_trajectories", "allocate", "s2l_selection", "select_by_trajectories",
           "loss_trajectories", "s2l_select", "trajectory_checkpoints", "pool_fingerprint"]
