"""Evaluation across every GPU of the node: one model replica per device, data-parallel.

The examples are cut into contiguous shards, one per device; each device evaluates its shard
with the same batched code as a single device (llm2llm.student.predict), in its own thread (the
GIL is released inside every forward pass), and the results are joined back in input order. On
a machine with one device or none (the CPU laptop) nothing changes. ``devices=["cpu", "cpu"]``
runs the same path on a CPU, which is how it is tested here.
"""

from __future__ import annotations

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


def data_parallel(model: Any, devices: Sequence[str], items: Sequence[Any],
                  run: Callable[[Any, list[Any], int], list[T]]) -> list[T]:
    """``run(replica, shard, position)`` on every device at once; the results joined in input order."""
    parts = [r for r in shards(len(items), len(devices)) if len(r)]
    replicas = [model if i == 0 and str(model.device) == devices[0] else copy.deepcopy(model).to(devices[i])
                for i in range(len(parts))]
    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        futures = [pool.submit(run, replicas[i], [items[j] for j in r], i) for i, r in enumerate(parts)]
        results = [f.result() for f in futures]
    return [x for part in results for x in part]
