"""Every schema Hydra composes against: the config groups' (``llm2llm.config``) and each registered
method's (``llm2llm.methods``), stored once before the first compose (train.py, tools, tests); and
a run's recorded config read back into them."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from llm2llm.config import TEACHER_SCHEMAS, Config, register_group_configs, validate
from llm2llm.methods import method_schemas


def register_configs() -> None:
    register_group_configs()
    cs = ConfigStore.instance()
    for name, schema in method_schemas().items():
        cs.store(group="method", name=f"schema_{name}", node=schema)


def recorded_config(values: dict[str, Any]) -> Config:
    """A run's recorded config (its config.json) as the typed, checked Config it ran with: the method
    group in its method's schema and the teacher group in its backend's, as Hydra composed them (the
    group fields are typed with the bases, which lack those schemas' own keys). Keys of those two
    groups that the schemas do not have come from an older layout (one schema with every method's
    keys) and are left out: this version reads none of them."""
    values = dict(values)
    node = OmegaConf.structured(Config)
    for group, schema in (("method", method_schemas().get(str((values.get("method") or {}).get("name")))),
                          ("teacher", TEACHER_SCHEMAS.get(str((values.get("teacher") or {}).get("backend"))))):
        if schema is not None:
            node[group] = OmegaConf.structured(schema)
            known = {f.name for f in fields(schema)}
            values[group] = {k: v for k, v in values[group].items() if k in known}
    return validate(OmegaConf.merge(node, values))
