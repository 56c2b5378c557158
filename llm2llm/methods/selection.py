"""S2L data selection with a proxy model: the ``s2l`` method's D_0 (settings ``method``) and the seed
set under ``task.seed_selection=s2l`` (settings ``task.s2l``).

The selection fully fine-tunes a *proxy* model (``proxy.model``; S2L: Pythia-70M-deduped)
on the pool with the proxy's own recipe (``proxy``: S2L's lr 2e-5, 3 epochs, batch 4 x 8
accumulation, bf16, a checkpoint every 500 steps), never the student's trainer settings, so
selecting data for a 7B student neither fine-tunes the 7B nor inherits its recipe.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from llm2llm.config import LoraConfig, ProxyConfig, S2LSelectionConfig, StudentConfig, TrainerConfig
from llm2llm.example import Example
from llm2llm.sampling import resolve_size, sample


def proxy_configs(cfg: Any, px: ProxyConfig) -> tuple[StudentConfig, TrainerConfig]:
    """The proxy's (student, trainer) configs: a full fine-tune in one process, fp32 weights (bf16 only
    as autocast), the proxy's own lr, schedule, epochs and batch."""
    model = px.model or cfg.student.model
    student = StudentConfig(name=f"s2l-proxy-{Path(str(model)).name}", model=model, dtype="float32",
                            max_length=px.max_length, lora=LoraConfig(enabled=False),
                            trust_remote_code=cfg.student.trust_remote_code)
    trainer = TrainerConfig(name="s2l-proxy", learning_rate=px.learning_rate, lr_scheduler=px.lr_scheduler,
                            warmup_ratio=px.warmup_ratio, epochs=px.epochs, max_steps=px.max_steps,
                            per_device_batch_size=px.per_device_batch_size,
                            effective_batch_size=px.per_device_batch_size * px.gradient_accumulation_steps,
                            weight_decay=px.weight_decay, bf16=px.bf16, eval_batch_size=cfg.trainer.eval_batch_size)
    return student, trainer


def proxy_student(cfg: Any, px: ProxyConfig, student: Any) -> Any:
    """A Student for the proxy (its own model and recipe), bound to the student's task and cache."""
    from llm2llm.student import Student

    proxy_cfg, trainer_cfg = proxy_configs(cfg, px)
    return Student(proxy_cfg, trainer_cfg, student.task, student.cache_dir, cfg.seed)


def select(cfg: Any, sel: S2LSelectionConfig, train: list[Example], budget: int, student: Any,
           work_dir: Path) -> list[Example]:
    """``budget`` examples of ``train`` chosen by S2L with the settings ``sel``."""
    from baselines.s2l import s2l_select

    n = len(train) if sel.pool_size is None else min(sel.pool_size, len(train))
    pool = [e.derive(origin="seed") for e in sample(train, n, cfg.seed)]
    resolve_size(budget, len(pool), "method.budget")
    px = sel.proxy
    proxy = proxy_student(cfg, px, student)
    settings = {**asdict(px), "model": proxy.cfg["model"]}
    try:
        return s2l_select(pool, budget, proxy, work_dir, n_clusters=sel.n_clusters,
                          checkpoints=px.n_checkpoints, seed=cfg.seed, save_every=px.save_every or 0,
                          kmeans_iterations=sel.kmeans_iterations, settings=settings)
    finally:
        proxy.release()
