"""Every schema Hydra composes against: the config groups' (``llm2llm.config``) and each registered
method's (``llm2llm.methods``), stored once before the first compose (train.py, tools, tests)."""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

from llm2llm.config import register_group_configs
from llm2llm.methods import method_schemas


def register_configs() -> None:
    register_group_configs()
    cs = ConfigStore.instance()
    for name, schema in method_schemas().items():
        cs.store(group="method", name=f"schema_{name}", node=schema)
