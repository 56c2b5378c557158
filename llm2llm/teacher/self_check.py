"""Start-up self-check of an in-process teacher: one short generation in a child process.

An in-process teacher (llama.cpp through llama-cpp-python, or a transformers model) runs native
code in the harness's own process. If that code crashes (a llama.cpp build with an instruction
set path this CPU mishandles, a driver, a CPU quirk) the process dies of a signal and the run ends
with a bare "Segmentation fault", possibly hours in. So before any training, and before anything
is written into the run directory, the configured teacher loads and generates a few tokens once
in a child process (``python -m llm2llm.teacher.self_check``, the config on stdin). A child that
dies of a signal or fails becomes one ``TeacherSelfCheckFailed`` line naming the stage, the
backend, the model, the signal and what to try; the run directory stays as it was, so the same
command resumes the run once the teacher works. Server teachers (``backend: openai``) have their
own readiness check and are not run here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from llm2llm.teacher.backends import TeacherError

#: the backends whose model runs inside the harness's process
IN_PROCESS = ("llamacpp", "local")
#: a loaded model answering 4 tokens takes seconds; a child still busy after this has hung
TIMEOUT_S = 600.0
#: the child's exit code for a one-line error (Llm2llmError) it printed as its last stderr line
_ERROR_EXIT = 3

_REQUEST = [{"role": "user", "content": "Write one short sentence about the weather."}]


class TeacherSelfCheckFailed(TeacherError):
    """The in-process teacher crashed or failed on a short generation in a child process."""


def _what_to_try(backend: str) -> str:
    if backend == "llamacpp":
        return ("try: rebuild llama-cpp-python for another CPU level or other CMAKE_ARGS (make rebuild-llama "
                "LLAMA_CPU=x86-64-v3; README, \"CPUs and the teacher's llama.cpp build\"), or the transformers "
                "teacher (teacher=local-smollm2), or a server teacher (teacher=openai-compatible teacher.base_url=...)")
    return ("try: reinstall torch for this machine, or the llama.cpp teacher (teacher=local-smollm2-llamacpp), "
            "or a server teacher (teacher=openai-compatible teacher.base_url=...)")


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def self_check(teacher_cfg: dict[str, Any], cache_dir: str) -> float | None:
    """Run the configured in-process teacher once in a child process. Returns the seconds it took
    (None for a server teacher, which is not run here); raises TeacherSelfCheckFailed (one line)
    if the child dies of a signal or fails."""
    backend = str(teacher_cfg["backend"])
    if backend not in IN_PROCESS:
        return None
    what = f"teacher self-check: the in-process {backend} teacher {teacher_cfg['model']!r}"
    root = str(Path(__file__).resolve().parents[2])  # this llm2llm, whether installed or run from a checkout
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "llm2llm.teacher.self_check"],
                              input=json.dumps({"teacher": teacher_cfg, "cache_dir": cache_dir}),
                              capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        raise TeacherSelfCheckFailed(f"{what} did not answer 4 tokens within {TIMEOUT_S:.0f} s, before any "
                                     f"training; {_what_to_try(backend)}") from None
    if proc.returncode == 0:
        return time.perf_counter() - t0
    last = next((line for line in reversed(proc.stderr.splitlines()) if line.strip()), "").strip()
    if proc.returncode < 0:
        raise TeacherSelfCheckFailed(
            f"{what} died of {_signal_name(proc.returncode)} while loading and generating 4 tokens in a child "
            f"process, before any training (nothing was written to the run directory; the same command resumes "
            f"the run once the teacher works); {_what_to_try(backend)}")
    if proc.returncode == _ERROR_EXIT:  # the teacher's own one-line error (model missing, package missing, ...)
        raise TeacherError(last)
    raise TeacherSelfCheckFailed(f"{what} failed on a 4-token test generation in a child process (exit code "
                                 f"{proc.returncode}: {last[:300]}); {_what_to_try(backend)}")


def _child() -> int:
    """Load the teacher described on stdin and generate 4 tokens; exit 0 on success."""
    import faulthandler

    from llm2llm.config import teacher_config
    from llm2llm.errors import Llm2llmError
    from llm2llm.teacher.backends import GenRequest
    from llm2llm.teacher.factory import make_backend

    faulthandler.enable()  # a native crash prints where it happened (stderr), then dies of the signal
    spec = json.loads(sys.stdin.read())
    try:
        cfg = teacher_config(**{**spec["teacher"], "max_tokens": 4, "batch_size": 1})
        backend = make_backend(cfg, spec["cache_dir"])
        backend.check_ready()
        (result,) = backend.generate([GenRequest(key="0" * 64, messages=_REQUEST)], lambda req, gen: None)
        backend.close()
    except Llm2llmError as e:
        print(str(e), file=sys.stderr)
        return _ERROR_EXIT
    if isinstance(result, BaseException):
        print(f"{type(result).__name__}: {result}".replace("\n", " "), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_child())
