"""Where the tests find the project, its data and its caches, and how they run ``train.py``.

conftest.py turns these into the ``data_dir`` and ``cache_dir`` fixtures and puts both into the
environment, so that a ``train.py`` started by a test reads the same data and caches as the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The real dataset copies (../shared/data unless LLM2LLM_DATA_DIR says otherwise).
DATA_DIR = Path(os.environ.get("LLM2LLM_DATA_DIR") or ROOT.parent / "shared" / "data")
# Models materialised once (SmolLM2) and other caches, inside the project unless LLM2LLM_CACHE_DIR says otherwise.
CACHE_DIR = Path(os.environ.get("LLM2LLM_CACHE_DIR") or ROOT / ".cache" / "llm2llm")


def require_data_dir() -> Path:
    """The real dataset copies; the calling test fails, naming what to set, when they are missing."""
    if not DATA_DIR.is_dir():
        pytest.fail(f"real dataset copies not found at {DATA_DIR} (set LLM2LLM_DATA_DIR)")
    return DATA_DIR


def train_env(**extra: str) -> dict[str, str]:
    """This process's environment (data and cache dirs included) with ``extra`` added."""
    return {**os.environ, **extra}


def train_py(*args: str, env: Mapping[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python train.py ARGS`` from the project root, stdout and stderr captured as text.

    ``env`` defaults to this process's environment."""
    return subprocess.run([sys.executable, "train.py", *args], cwd=ROOT, env=None if env is None else dict(env),
                          capture_output=True, text=True, timeout=timeout)


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The single ``error:`` line of a run that exited with code 2 and printed no traceback."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]
