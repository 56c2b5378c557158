"""Multiruns that survive a failed job (after lightning-hydra-template's ``task_wrapper``).

A failed job is printed, written to its run directory (``FAILED.txt``) and appended to the sweep's
failure log (``<sweep dir>/multirun_failures.jsonl``: one JSON line per failure, written with
O_APPEND by whichever process ran the job, so it works for SLURM array jobs too), and the next job
runs. ``FailureReport``, a Hydra callback registered in conf/config.yaml, gives each multirun an id
that its jobs inherit through the environment (to a SLURM job too: sbatch exports it) and tag their
failures with, and ends the multirun by listing its own failures and exiting non-zero when there
were any, so a script that launched the sweep notices. Two multiruns of one sweep running at the
same time (two terminals, a second submission adding seeds) share the log but not their lists.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from llm2llm.errors import Llm2llmError
from llm2llm.example import read_jsonl

FAILURE_LOG = "multirun_failures.jsonl"
#: the environment variable that carries a multirun's id to its jobs
MULTIRUN_ID_ENV = "LLM2LLM_MULTIRUN_ID"


def in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def record_failure(error: BaseException) -> None:
    """Print a job's failure, and record it in its run directory and the sweep's failure log."""
    from hydra.core.hydra_config import HydraConfig

    from llm2llm.rundir import RunDir, RunDirHeld, RunDirTaken

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    line = str(error) if isinstance(error, Llm2llmError) else f"{type(error).__name__}: {error}"
    print(f"error: job {hc.job.num} ({run_dir}): {line}", file=sys.stderr)
    if not isinstance(error, (RunDirHeld, RunDirTaken)):  # never write into another job's or config's directory
        detail = line if isinstance(error, Llm2llmError) else "".join(traceback.format_exception(error))
        RunDir(run_dir).record_failure(detail)  # skipped if a live job holds it (e.g. the same sweep on another node)
    entry = {"job": hc.job.num, "run_dir": str(run_dir), "overrides": list(hc.overrides.task), "error": line,
             "time": time.time(), "multirun": os.environ.get(MULTIRUN_ID_ENV)}
    log = Path(hc.sweep.dir) / FAILURE_LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps(entry) + "\n").encode())
    finally:
        os.close(fd)


class FailureReport(Callback):
    """At the end of a multirun: which jobs failed and why; exit code 1 if any did."""

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        os.environ[MULTIRUN_ID_ENV] = uuid.uuid4().hex

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        log = Path(config.hydra.sweep.dir) / FAILURE_LOG
        if not log.is_file():
            return
        failures = [f for f in read_jsonl(log) if f.get("multirun") == os.environ.get(MULTIRUN_ID_ENV)]
        if not failures:
            return
        print(f"\n{len(failures)} job(s) of this multirun failed (the others finished):", file=sys.stderr)
        for f in sorted(failures, key=lambda f: f["job"]):
            print(f"  #{f['job']} {' '.join(f['overrides'])}: {f['error']}", file=sys.stderr)
        print(f"  (failure log: {log})", file=sys.stderr)
        sys.exit(1)
