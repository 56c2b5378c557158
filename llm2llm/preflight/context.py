"""What every check sees: the composed student and trainer configs, the sizes, the device, a scratch
folder, and the figures earlier checks measured."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm2llm.preflight.sizes import Sizes

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


class Skip(Exception):
    """A check that cannot run here; the message says why."""


@dataclass
class Context:
    sizes: Sizes
    student: dict[str, Any]
    trainer: dict[str, Any]
    work: Path
    cache_dir: str | None = None
    sweeps: list[Path] = field(default_factory=list)
    #: assumed share of seed examples the student gets wrong each iteration (1.0: the upper bound)
    wrong_fraction: float = 1.0
    #: figures of the checks that finished, by check name
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> str:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def memo(self, key: str, make: Any) -> Any:
        """Build something once (the tokenizer, a model folder) and share it between checks."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def forget(self, key: str) -> None:
        self._cache.pop(key, None)

    def architecture(self) -> tuple[Any, str]:
        from llm2llm.preflight.synthetic import student_config

        return self.memo("architecture", lambda: student_config(self.student["model"], self.cache_dir))

    def tokenizer(self) -> Any:
        from llm2llm.preflight.synthetic import shaped, word_tokenizer

        return self.memo("tokenizer", lambda: word_tokenizer(shaped(self.architecture()[0], toy=self.sizes.toy).vocab_size))


def compose(student: str, trainer: str, overrides: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """conf/config.yaml with ``student=`` and ``trainer=`` as the harness composes it (Hydra), as plain dicts."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from llm2llm.config import to_plain
    from llm2llm.schemas import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose("config", overrides=[f"student={student}", f"trainer={trainer}", "tracking=none"]
                            + list(overrides or []))
    return copy.deepcopy(to_plain(cfg.student)), copy.deepcopy(to_plain(cfg.trainer))
