"""The base of every method's schema; each method's own schema lives beside it in ``llm2llm/methods/``.

``conf/method/<name>.yaml`` names its method's schema in its defaults list (``schema_<name>``, stored
by ``llm2llm.schemas.register_configs``), so a key the chosen method does not have fails while Hydra
composes the config, naming the key. A sweep over several methods gives each its own settings with a
specialised defaults entry (``optional <group>@method: ${method}``, as sweeps/cpu_twin/ does), not a
key all methods share.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from llm2llm.config.check import at_least


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
