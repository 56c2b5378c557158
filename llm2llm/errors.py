"""User-facing errors: each one is printed as a single line and exits non-zero."""

from __future__ import annotations

import sys
from typing import Callable


class Llm2llmError(Exception):
    """Base class for errors caused by bad input (config, data, paths), not by bugs."""


class ConfigError(Llm2llmError):
    """The composed configuration cannot work."""


class DataError(Llm2llmError):
    """A data file is missing, unreadable or malformed."""


def exit_code(command: Callable[[], int]) -> int:
    """Run a command-line tool's body: its own exit code, or 2 after one ``error:`` line on stderr
    when the input is bad (an Llm2llmError)."""
    try:
        return command()
    except Llm2llmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
