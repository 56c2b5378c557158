"""SmallToLarge (S2L, Yang et al. 2024): data selection by clustering a proxy model's loss trajectories.

1. Fine-tune a small proxy model on the whole candidate pool, saving ``checkpoints`` evenly spaced
   checkpoints along the way (``Student.train(..., checkpoints=n)``).
2. Record every example's loss (mean over its target tokens only) at each checkpoint: a
   trajectory matrix with one row per example and one column per checkpoint.
3. K-means the trajectories into ``n_clusters`` clusters (scikit-learn, seeded).
4. Spend the budget evenly across clusters, smallest cluster first: each cluster's share is the
   remaining budget over the clusters still to visit (rounded up, so small clusters win the
   rounding); a cluster smaller than its share gives all of it and what it could not take is
   re-spread over the larger clusters after it. Within a cluster the examples are drawn at random
   (seeded).

The pure part (3-4: :func:`select_by_trajectories`) needs no model. The model part (1-2:
:func:`loss_trajectories`) caches each checkpoint's losses under ``work_dir/losses/`` so a resumed
or repeated call trains nothing and scores nothing again. :func:`s2l_select` puts both together;
it serves as the S2L baseline (select the training set from a larger pool) and as LLM2LLM's
``task.seed_selection=s2l`` (select the seed set).
"""

from __future__ import annotations

import hashlib
import json
import math
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


def cluster_trajectories(trajectories: Any, n_clusters: int, seed: int) -> np.ndarray:
    """K-means labels (0..k-1) of every row; k = min(n_clusters, number of distinct rows)."""
    from sklearn.cluster import KMeans

    t = _check_trajectories(trajectories)
    if n_clusters < 1:
        raise ConfigError(f"method.n_clusters: must be >= 1, got {n_clusters}")
    k = min(n_clusters, len(np.unique(t, axis=0)))
    if k == 1:
        return np.zeros(len(t), dtype=int)
    km = KMeans(n_clusters=k, random_state=seed, n_init=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on near-duplicate rows
        labels = km.fit_predict(t)
    # Renumber clusters by their first member so labels do not depend on K-means' numbering.
    _, first = np.unique(labels, return_index=True)
    remap = {int(labels[i]): r for r, i in enumerate(sorted(first))}
    return np.array([remap[int(l)] for l in labels], dtype=int)


def allocate(labels: Sequence[int], budget: int, seed: int) -> Selection:
    """Spend ``budget`` across the clusters in ``labels``, smallest first (see module docstring)."""
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
    # smallest first; ties by the cluster's first member (stable, numbering-independent)
    order = sorted(members, key=lambda c: (len(members[c]), members[c][0]))
    rng = np.random.default_rng(seed)
    taken: dict[int, list[int]] = {c: [] for c in order}
    remaining = budget
    for pos, c in enumerate(order):
        share = math.ceil(remaining / (len(order) - pos)) if remaining else 0
        m = members[c]
        if len(m) <= share:
            pick = list(m)
        else:
            pick = sorted(int(x) for x in rng.choice(m, size=share, replace=False))
        taken[c] = pick
        remaining -= len(pick)
    # Rounding can leave a few unspent when the last clusters are exhausted: top up, smallest first.
    while remaining > 0:
        progressed = False
        for c in order:
            if remaining == 0:
                break
            left = sorted(set(members[c]) - set(taken[c]))
            if left:
                taken[c].append(int(left[int(rng.integers(len(left)))]))
                remaining -= 1
                progressed = True
        if not progressed:  # pragma: no cover - impossible when budget <= n
            raise AssertionError("S2L allocation could not meet the budget")
    indices = sorted(i for c in order for i in taken[c])
    return Selection(indices=indices, labels=labels, cluster_sizes={c: len(members[c]) for c in order},
                     taken={c: len(taken[c]) for c in order}, order=order)


def s2l_selection(trajectories: Any, budget: int, n_clusters: int, seed: int) -> Selection:
    """Cluster the trajectories and allocate the budget: the full :class:`Selection`."""
    t = _check_trajectories(trajectories)
    if not 0 <= budget <= len(t):
        raise ConfigError(f"S2L budget {budget} is outside [0, {len(t)}] (the candidate pool has {len(t)} examples)")
    return allocate(cluster_trajectories(t, n_clusters, seed), budget, seed)


def select_by_trajectories(trajectories: Any, budget: int, n_clusters: int, seed: int) -> list[int]:
    """Indices (sorted) of the ``budget`` pool rows S2L selects from a loss-trajectory matrix."""
    return s2l_selection(trajectories, budget, n_clusters, seed).indices


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


def loss_trajectories(student: Any, pool: Sequence[Example], work_dir: str | Path, checkpoints: int) -> np.ndarray:
    """The (len(pool) x checkpoints) loss-trajectory matrix of a proxy fine-tuned on ``pool``.

    Layout under ``work_dir``: ``pool.json`` (what was trained on), ``proxy/`` (the proxy run,
    ``proxy/trajectory/ckpt-<i>``), ``losses/ckpt-<i>.json`` (per checkpoint: ids and losses),
    ``trajectories.npy``. Cached losses are reused; the proxy is only trained (or its finished
    run reopened) when some checkpoint's losses are missing. A ``work_dir`` that holds a different
    pool raises DataError instead of mixing two pools' results.
    """
    if checkpoints < 1:
        raise ConfigError(f"method.proxy_checkpoints: must be >= 1, got {checkpoints}")
    pool = list(pool)
    if not pool:
        raise ConfigError("S2L: the candidate pool is empty")
    ids = [e.id for e in pool]
    if len(set(ids)) != len(ids):
        raise DataError("S2L: the candidate pool has duplicate example ids")
    work_dir = Path(work_dir)
    fp = pool_fingerprint(pool)
    manifest = work_dir / "pool.json"
    if manifest.is_file():
        old = json.loads(manifest.read_text(encoding="utf-8"))
        if old.get("fingerprint") != fp or old.get("checkpoints") != checkpoints:
            raise DataError(
                f"{work_dir}: holds S2L results for another pool or checkpoint count "
                f"({old.get('n')} examples, {old.get('checkpoints')} checkpoints; now {len(pool)}, {checkpoints}); "
                "use a fresh work directory"
            )
    else:
        atomic_write_json(manifest, {"fingerprint": fp, "n": len(pool), "checkpoints": checkpoints, "ids": ids})
    loss_dir = work_dir / "losses"
    cols: list[list[float] | None] = [_read_cached(loss_dir / f"ckpt-{i}.json", ids) for i in range(checkpoints)]
    missing = [i for i, c in enumerate(cols) if c is None]
    if missing:
        proxy_dir = work_dir / "proxy"
        student.train(pool, proxy_dir, checkpoints=checkpoints)
        ckpts = trajectory_checkpoints(proxy_dir)
        if len(ckpts) != checkpoints:
            raise DataError(
                f"{proxy_dir}: the proxy run saved {len(ckpts)} trajectory checkpoints, expected {checkpoints} "
                "(too few training steps? lower method.proxy_checkpoints or train longer)"
            )
        for i in missing:
            losses = [float(x) for x in student.example_losses(ckpts[i], pool)]
            if len(losses) != len(pool):
                raise AssertionError(f"example_losses returned {len(losses)} losses for {len(pool)} examples")
            atomic_write_json(loss_dir / f"ckpt-{i}.json",
                              {"checkpoint": str(ckpts[i]), "ids": ids, "losses": losses})
            cols[i] = losses
    t = np.array(cols, dtype=np.float64).T  # rows: examples, columns: checkpoints
    bad = ~np.isfinite(t)
    if bad.any():
        # An example whose target was truncated away has no loss: give it its column's worst loss.
        warnings.warn(f"S2L: {int(bad.any(axis=1).sum())} pool example(s) have no finite loss "
                      "(target truncated?); using the column's largest loss")
        for j in range(t.shape[1]):
            col = t[:, j]
            finite = col[np.isfinite(col)]
            col[~np.isfinite(col)] = finite.max() if finite.size else 0.0
    np.save(work_dir / "trajectories.npy", t)
    return t


def s2l_select(pool: Sequence[Example], budget: int, student: Any, work_dir: str | Path, n_clusters: int = 4,
               checkpoints: int = 3, seed: int = 0) -> list[Example]:
    """Select ``budget`` examples of ``pool`` with S2L, using ``student`` as the proxy model.

    The examples are returned unchanged, in pool order. The selection (indices, ids, cluster of
    every pool example, per-cluster counts) is written to
    ``work_dir/selection-b<budget>-k<n_clusters>-s<seed>.json``.
    """
    pool = list(pool)
    if not 0 <= budget <= len(pool):
        raise ConfigError(f"S2L budget {budget} is outside [0, {len(pool)}] (the candidate pool has {len(pool)} examples)")
    t = loss_trajectories(student, pool, work_dir, checkpoints)
    sel = s2l_selection(t, budget, n_clusters, seed)
    atomic_write_json(Path(work_dir) / f"selection-b{budget}-k{n_clusters}-s{seed}.json",
                      {**sel.to_dict(), "ids": [pool[i].id for i in sel.indices], "budget": budget,
                       "n_clusters": n_clusters, "seed": seed, "checkpoints": checkpoints})
    return [pool[i] for i in sel.indices]


__all__ = ["Selection", "cluster_trajectories", "allocate", "s2l_selection", "select_by_trajectories",
           "loss_trajectories", "s2l_select", "trajectory_checkpoints", "pool_fingerprint"]
