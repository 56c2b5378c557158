"""``check``: the one way a schema rejects a value, as ``ConfigError('<key>: <what is wrong>')``.

Schemas call it from ``__post_init__``, which OmegaConf runs when ``validate`` turns the composed
config into these dataclasses, so each check sits beside the fields it reads.
"""

from __future__ import annotations

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
