"""One schema per method (``conf/method/<name>.yaml`` names it in its defaults list).

A key the chosen method does not have fails while Hydra composes the config, naming the key. A
sweep over several methods gives each its own settings with a specialised defaults entry
(``optional <group>@method: ${method}``, as sweeps/cpu_twin/ does), not a key all methods share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from omegaconf import MISSING

from llm2llm.config.check import at_least, check
from llm2llm.config.selection import S2LSelectionConfig, check_selection


@dataclass
class MethodConfig:
    #: a method registered in llm2llm/methods/; the registry (llm2llm.methods.get_method) rejects any
    #: other name when the run starts
    name: str = MISSING
    #: train/evaluate rounds of the loop; a method that does not iterate trains once whatever this says,
    #: so one sweep can set it for LLM2LLM and its baselines alike
    iterations: int = 1

    def __post_init__(self) -> None:
        at_least(self.iterations, 1, "method.iterations")


@dataclass
class FinetuneConfig(MethodConfig):
    """Plain fine-tuning on the seed set."""


@dataclass
class LLM2LLMConfig(MethodConfig):
    #: augmentations per wrong seed example (paper: 1)
    k: int = 1
    #: only wrong seeds go to the teacher; false = the "non-targeted" ablation (all seeds)
    targeted: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least(self.k, 1, "method.k")


@dataclass
class AugmentConfig(MethodConfig):
    """What the one-round augmentations share: ``num_aug`` per seed, or the budget of an LLM2LLM run."""

    #: augmentations per seed example
    num_aug: int = 4
    #: set the total augmentations to what an LLM2LLM run added: its results.json, its run directory, or a
    #: directory to search for the one finished LLM2LLM run of this task, seed and student
    budget_from: Optional[str] = None
    #: with a directory to search: take the LLM2LLM run of this teacher (teacher.name), where there are several
    budget_teacher: Optional[str] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        at_least(self.num_aug, 1, "method.num_aug")


@dataclass
class EDAConfig(AugmentConfig):
    num_aug: int = 9
    #: the share of words each operation changes: synonym replacement, random insertion, random swap,
    #: random deletion (each word with probability alpha_rd)
    alpha_sr: float = 0.1
    alpha_ri: float = 0.1
    alpha_rs: float = 0.1
    alpha_rd: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("alpha_sr", "alpha_ri", "alpha_rs", "alpha_rd"):
            value = getattr(self, name)
            check(0 <= value <= 1, f"method.{name}", f"must be in [0, 1], got {value}")


@dataclass
class AugGPTConfig(AugmentConfig):
    """The teacher's label-preserving rephrasings of every seed."""


@dataclass
class UntargetedConfig(AugmentConfig):
    """The teacher's examples for random seeds instead of the wrong ones."""

    num_aug: int = 1


@dataclass
class RandomExtraConfig(AugmentConfig):
    """Random labelled train examples ("label more data")."""

    num_aug: int = 1


@dataclass
class S2LConfig(MethodConfig, S2LSelectionConfig):
    #: how many examples S2L selects (null: the task's seed size)
    budget: Optional[int] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_selection(self, "method")
        at_least(self.budget, 1, "method.budget", nullable=True)


#: the schema of each built-in method, stored in Hydra's ConfigStore as method/schema_<name>
METHOD_SCHEMAS: dict[str, type[MethodConfig]] = {
    "finetune": FinetuneConfig, "llm2llm": LLM2LLMConfig, "eda": EDAConfig, "auggpt": AugGPTConfig,
    "untargeted": UntargetedConfig, "random_extra": RandomExtraConfig, "s2l": S2LConfig,
}
