"""SmallToLarge (Yang et al. 2024): D_0 = an S2L selection of ``method.budget`` examples from a pool.

The selection trains a *proxy* model (``method.proxy_model``; the paper: Pythia-70M) on the
pool, never the student itself, so selecting data for a 7B student does not fine-tune the 7B.
``task.seed_selection=s2l`` uses the same selection as the seed set of any other method.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from llm2llm.example import Example
from llm2llm.methods import Method, register
from llm2llm.sampling import resolve_size, sample


def proxy_student(cfg: Any, student: Any) -> Any:
    """The proxy: ``method.proxy_model`` fully fine-tuned in fp32 (as the paper trains Pythia-70M) with
    the student's max_length and trainer settings; the student itself when no other model is named."""
    from llm2llm.student import Student

    model = getattr(cfg.method, "proxy_model", None)
    if not model or model == cfg.student.model:
        return student
    proxy_cfg = replace(cfg.student, name=f"proxy-{Path(model).name}", model=model, dtype="float32",
                        lora=replace(cfg.student.lora, enabled=False))
    return Student(proxy_cfg, cfg.trainer, student.task, student.cache_dir, cfg.seed)


def select(cfg: Any, train: list[Example], budget: int, student: Any, work_dir: Path) -> list[Example]:
    from baselines.s2l import s2l_select

    n = min(cfg.method.pool_size, len(train))
    pool = [e.derive(origin="seed") for e in sample(train, n, cfg.seed)]
    resolve_size(budget, len(pool), "method.budget")
    proxy = proxy_student(cfg, student)
    try:
        return s2l_select(pool, budget, proxy, work_dir, n_clusters=cfg.method.n_clusters,
                          checkpoints=cfg.method.proxy_checkpoints, seed=cfg.seed)
    finally:
        if proxy is not student:
            proxy.release()


@register
class S2L(Method):
    name = "s2l"

    def seeds(self, cfg: Any, train: list[Example], seeds: list[Example], student: Any, work_dir: Path) -> list[Example]:
        return select(cfg, train, cfg.method.budget or len(seeds), student, work_dir)
