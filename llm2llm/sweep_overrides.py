"""A multirun's command line, checked before Hydra composes it: a key of a swept config group.

``python train.py -m method=eda,auggpt method.num_aug=2`` fails inside Hydra with a message about
the *default* method's schema (and advice, ``+method.num_aug=2``, that fails too): Hydra composes the
sweep's first config without its sweeps, so with ``method=llm2llm``, which has no ``num_aug``, before
it composes any job (Hydra issue 2888, "expected multirun staging behavior"). Before Hydra starts,
this module composes each swept choice and says in one line (exit 2) which choices lack the key, or,
when they all have it, that ``++`` is what gets it past the first config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig, OmegaConf

from llm2llm.errors import ConfigError

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
_ABSENT = object()


def check_swept_group_keys(argv: Sequence[str]) -> None:
    """Raise a one-line ConfigError for a plain ``group.key=value`` override of a group swept on the
    same command line that a swept choice lacks, or that Hydra's first config rejects; do nothing
    otherwise. (Groups swept in a sweep file's ``hydra.sweeper.params`` are checked per job.)"""
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from llm2llm.schemas import register_configs

    args, _ = get_args_parser().parse_known_args(list(argv))
    if not args.multirun:
        return
    register_configs()  # the group files name their schemas
    overrides = OverridesParser.create().parse_overrides(args.overrides)
    swept = {o.key_or_group: [str(v) for v in o.sweep_string_iterator()] for o in overrides
             if o.is_sweep_override() and o.package is None and (CONF_DIR / o.key_or_group).is_dir()}
    group_keys = [o for o in overrides if not (o.is_add() or o.is_force_add() or o.is_delete())
                  and o.key_or_group.split(".", 1)[0] in swept and "." in o.key_or_group]
    if not group_keys:
        return
    with_choice = {(group, choice): _compose(CONF_DIR, "config", [f"{group}={choice}"])
                   for group in {o.key_or_group.split(".", 1)[0] for o in group_keys} for choice in swept[group]}
    for o in group_keys:  # Hydra refuses this too (checking every job first), in lines about one schema
        group, key = o.key_or_group.split(".", 1)
        composed = [with_choice[group, choice] for choice in swept[group]]
        if None in composed:
            return  # a choice that does not exist: Hydra says which
        lacking = [choice for choice, cfg in zip(swept[group], composed)
                   if OmegaConf.select(cfg, o.key_or_group, default=_ABSENT, throw_on_missing=False) is _ABSENT]
        if lacking:
            raise ConfigError(
                f"{o.input_line}: set for every job of this multirun, but {group}={','.join(lacking)} has no "
                f"setting {key}: sweep it only with the {group}s that have it, or run those separately")
    primary = (Path(args.config_dir).resolve() if args.config_dir else CONF_DIR, args.config_name or "config")
    others = [o.input_line for o in overrides if not o.is_sweep_override() and o not in group_keys]
    if _compose(*primary, others) is None:
        return  # Hydra's first config fails for another reason: Hydra says which
    for o in group_keys:
        if _compose(*primary, others + [o.input_line]) is None:
            group, key = o.key_or_group.split(".", 1)
            raise ConfigError(
                f"{o.input_line}: every swept {group} has {key}, but Hydra first composes the sweep with the "
                f"default {group}, which has not: write ++{o.input_line} (or set it in a sweep file)")


def _compose(config_dir: Path, config_name: str, overrides: list[str]) -> DictConfig | None:
    """``config_name`` from ``config_dir`` (with conf/ on the search path, as ``--config-dir`` puts it)
    under ``overrides``, or None where Hydra cannot compose it (Hydra then says why better than a
    guess here)."""
    from hydra import compose, initialize_config_dir

    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            return compose(config_name, overrides=[*overrides, f"hydra.searchpath=[file://{CONF_DIR}]"])
    except Exception:
        return None
