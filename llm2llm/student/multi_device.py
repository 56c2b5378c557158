"""Evaluation across every GPU of the node: one model replica per device, data-parallel.

The examples are cut into contiguous shards, one per device; each device evaluates its shard
with the same batched code as a single device (llm2llm.student.predict), in its own thread (the
GIL is released inside every forward pass; each thread makes its device the current CUDA device),
and the results are joined back in input order. On a machine with one device or none (the CPU
laptop) nothing changes. ``devices=["cpu", "cpu"]`` runs the same path on a CPU, which is how it
is tested here.
"""

from __future__ import annotations

import contextlib
import copy
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence, TypeVar

T = TypeVar("T")


def eval_devices(configured: Sequence[str] | None) -> list[str]:
    """The devices to evaluate on: ``student.eval_devices``, else every CUDA device when there are several."""
    if configured:
        return list(configured)
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [f"cuda:{i}" for i in range(n)] if n > 1 else []


def shards(n: int, parts: int) -> list[range]:
    """``parts`` contiguous ranges covering 0..n-1, sizes differing by at most one."""
    base, extra = divmod(n, parts)
    out, start = [], 0
    for i in range(parts):
        size = base + (i < extra)
        out.append(range(start, start + size))
        start += size
    return out


def replicate(model: Any, devices: Sequence[str]) -> list[Any]:
    """One copy of ``model`` per device; the first is ``model`` itself, moved to ``devices[0]``.

    Built once per loaded checkpoint (the caller keeps them) and copied one at a time, so at most
    one extra copy is in flight on the source device.
    """
    replicas = [model.to(devices[0])]
    for device in devices[1:]:
        replicas.append(copy.deepcopy(model).to(device))
    return replicas


def _on_device(model: Any) -> contextlib.AbstractContextManager:
    """The model's CUDA device made current for this thread (kernels and allocations without an explicit device)."""
    import torch

    device = next(model.parameters()).device
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def data_parallel(replicas: Sequence[Any], items: Sequence[Any],
                  run: Callable[[Any, list[Any], int], list[T]]) -> list[T]:
    """``run(replica, shard, position)`` for every replica at once; the results joined in input order.

    Each ``run`` must return one result per item of its shard. With fewer items than replicas the
    extra replicas sit out.
    """
    parts = [r for r in shards(len(items), len(replicas)) if len(r)]

    def one(i: int) -> list[T]:
        with _on_device(replicas[i]):
            out = run(replicas[i], [items[j] for j in parts[i]], i)
        if len(out) != len(parts[i]):
            raise RuntimeError(f"replica {i}: {len(out)} results for {len(parts[i])} examples")
        return out

    if len(parts) <= 1:
        return one(0) if parts else []
    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        results = list(pool.map(one, range(len(parts))))
    return [x for part in results for x in part]
