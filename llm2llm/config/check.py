"""``check``: the one way a schema rejects a value, as ``ConfigError('<key>: <what is wrong>')``; and
``Choice``, the base of the closed sets.

Schemas call it from ``__post_init__``, which OmegaConf runs when ``validate`` turns the composed
config into these dataclasses, so each check sits beside the fields it reads.
"""

from __future__ import annotations

from enum import Enum

from llm2llm.errors import ConfigError

#: ``bf16`` and ``list_labels`` are tri-state: YAML's true/false arrive as strings in a ``str`` field
TRI_STATE = ("auto", "true", "false", "True", "False")


def check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {message}")


def at_least(value: float | None, low: float, key: str, nullable: bool = False) -> None:
    """``value >= low`` (or None where ``nullable``)."""
    if value is None and nullable:
        return
    check(value is not None and value >= low, key, f"must be >= {low:g}{' or null' if nullable else ''}, got {value}")


def tri_state(value: str, key: str) -> None:
    check(str(value) in TRI_STATE, key, f"auto | true | false, got {value!r}")


class Choice(str, Enum):
    """A closed set of strings (a config value OmegaConf checks against the members): it compares,
    prints and formats as its value, as ``enum.StrEnum`` does from Python 3.11 (this runs on 3.10)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)
