"""S2L's selection settings: the ``s2l`` method's, and the seed set's under ``task.seed_selection=s2l``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from llm2llm.config.check import at_least, check, tri_state


@dataclass
class ProxyConfig:
    """S2L's proxy: a small model fully fine-tuned on the candidate pool with its own recipe. Defaults are
    S2L's (BigML-CS-UCLA/S2L configs/pythia-70m-deduped_checkpoints.yml); conf/method/s2l.yaml scales the
    CPU default down where its comments say so."""

    #: hub id, local folder or embedded:<name>; null: the student's base model (trained with this recipe)
    model: Optional[str] = "EleutherAI/pythia-70m-deduped"
    #: the proxy is always fully fine-tuned; its weights are trained and kept in fp32 (bf16: autocast)
    learning_rate: float = 2e-5
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    epochs: float = 3.0
    per_device_batch_size: int = 4
    gradient_accumulation_steps: int = 8
    max_length: int = 512
    #: auto (bf16 where the hardware has it; S2L: bf16) | true | false
    bf16: str = "auto"
    #: a checkpoint every this many optimizer steps (S2L: 500); null: n_checkpoints evenly spaced over training
    save_every: Optional[int] = 500
    #: the trajectory is the last n_checkpoints saved checkpoints (S2L: 12, its save_total_limit)
    n_checkpoints: int = 12
    #: optimizer steps to stop at (-1: epochs decide; for tests)
    max_steps: int = -1


@dataclass
class S2LSelectionConfig:
    """How S2L picks examples: a pool drawn from train, the proxy's loss trajectories, K-means over them."""

    #: candidate pool size drawn from train (null: all of train, as S2L)
    pool_size: Optional[int] = 256
    #: K-means clusters of the loss trajectories (S2L: 100; capped by the pool) and iterations (S2L: 20)
    n_clusters: int = 100
    kmeans_iterations: int = 20
    #: the proxy model and its own training recipe (never the student's trainer settings)
    proxy: ProxyConfig = field(default_factory=ProxyConfig)


def check_selection(sel: S2LSelectionConfig, prefix: str) -> None:
    """The checks of S2L's settings, keys named under ``prefix`` (``method`` or ``task.s2l``)."""
    at_least(sel.pool_size, 1, f"{prefix}.pool_size", nullable=True)
    at_least(sel.n_clusters, 1, f"{prefix}.n_clusters")
    at_least(sel.kmeans_iterations, 1, f"{prefix}.kmeans_iterations")
    px, key = sel.proxy, f"{prefix}.proxy"
    for name in ("n_checkpoints", "per_device_batch_size", "gradient_accumulation_steps", "max_length"):
        at_least(getattr(px, name), 1, f"{key}.{name}")
    at_least(px.save_every, 1, f"{key}.save_every", nullable=True)
    check(px.learning_rate > 0, f"{key}.learning_rate", f"must be > 0, got {px.learning_rate}")
    check(px.epochs > 0 or px.max_steps > 0, f"{key}.epochs", f"must be > 0 (or set max_steps), got {px.epochs}")
    check(0 <= px.warmup_ratio < 1, f"{key}.warmup_ratio", f"must be in [0, 1), got {px.warmup_ratio}")
    tri_state(px.bf16, f"{key}.bf16")
