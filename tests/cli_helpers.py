"""Shared checks for tests that run ``train.py`` in a subprocess."""

from __future__ import annotations

import subprocess


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The single ``error:`` line of a run that exited with code 2 and printed no traceback."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]
