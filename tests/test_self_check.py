"""The start-up self-check of the in-process teacher (llm2llm/teacher/self_check.py).

A native crash cannot be provoked in the real llama.cpp on purpose, so the crash test puts a
stand-in ``llama_cpp`` package first on PYTHONPATH whose ``Llama`` loads, then dereferences a null
pointer on the first call (``ctypes.string_at(0)``): the child process really dies of SIGSEGV inside the
teacher's first generation, as the AMX build did. The harness code under test is unchanged.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from cli_helpers import error_line, train_env, train_py

from llm2llm.teacher.backends import TeacherError
from llm2llm.teacher.self_check import TeacherSelfCheckFailed, self_check

CRASHING_LLAMA_CPP = '''
import ctypes


class Llama:
    def __init__(self, **kwargs):
        pass

    def close(self):
        pass

    def __getattr__(self, name):  # create_chat_completion, reset, ...: SIGSEGV, like llama_decode on a bad build
        return lambda *args, **kwargs: ctypes.string_at(0)
'''


def crashing_llama_cpp(tmp_path: Path) -> str:
    pkg = tmp_path / "stand_in" / "llama_cpp"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(CRASHING_LLAMA_CPP)
    return str(pkg.parent)


def train(run: Path, tmp_path: Path, pythonpath: str, *extra: str) -> subprocess.CompletedProcess:
    train_file, test_file = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    train_file.write_text('{"text": "a", "label": "yes"}\n{"text": "b", "label": "no"}\n')
    test_file.write_text('{"text": "is it?", "label": "yes"}\n')
    env = train_env(PYTHONPATH=os.pathsep.join(filter(None, [pythonpath, os.environ.get("PYTHONPATH")])))
    return train_py("method=llm2llm", "teacher=local-smollm2-llamacpp", "student.model=/nonexistent/model",
                    "tracking=none", "task=jsonl", f"task.train_file={train_file}", f"task.test_file={test_file}",
                    "task.labels=[yes,no]", "task.seed_size=1", f"hydra.run.dir={run}", *extra, env=env, timeout=180)


def snapshot(run: Path) -> dict[str, tuple[str, int]]:
    """Every file of the run (content hash, mtime) but Hydra's own per-invocation record (.hydra/,
    train.log), which Hydra rewrites on every start whatever the harness does."""
    return {str(p.relative_to(run)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(run.rglob("*")) if p.is_file() and p.parts[len(run.parts)] not in (".hydra", "train.log")}


@pytest.mark.slow  # two whole train.py runs
def test_a_teacher_that_dies_of_a_signal_is_one_error_line_and_the_run_is_untouched(tmp_path):
    stand_in = crashing_llama_cpp(tmp_path)
    run = tmp_path / "run"
    # An earlier attempt of this run, with the self-check off: it claimed the directory, loaded the
    # (stand-in) teacher, wrote its first stages and stopped where the student is loaded.
    first = error_line(train(run, tmp_path, stand_in, "teacher.self_check=false"))
    assert "/nonexistent/model" in first
    before = snapshot(run)
    assert {"config.json", "environment.json", "seed_set.jsonl", "iter_0/train.jsonl"} <= set(before)

    proc = train(run, tmp_path, stand_in)
    line = error_line(proc)
    assert line.startswith("error: teacher self-check: the in-process llamacpp teacher "
                           "'embedded:smollm2-135m-instruct' died of SIGSEGV"), line
    for hint in ("CMAKE_ARGS", "teacher=local-smollm2)", "teacher=openai-compatible"):
        assert hint in line, line
    assert "Segmentation fault" not in proc.stderr
    assert snapshot(run) == before  # byte for byte, not even rewritten
    assert {p.name for p in run.iterdir()} == {".hydra", "train.log", *(k.split("/")[0] for k in before)}
    assert not (run / "RUNNING").exists() and not (run / "FAILED.txt").exists()

    # still resumable: the same run (self-check off) claims the directory again and goes on to the student
    assert error_line(train(run, tmp_path, stand_in, "teacher.self_check=false")) == first


def test_a_teacher_error_in_the_child_is_the_teachers_own_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", crashing_llama_cpp(tmp_path))  # importable whether or not llama-cpp is installed
    with pytest.raises(TeacherError, match="is not a GGUF file") as e:
        self_check({"backend": "llamacpp", "model": str(tmp_path / "missing.gguf")}, str(tmp_path))
    assert not isinstance(e.value, TeacherSelfCheckFailed)


def test_a_server_teacher_is_not_run_here(tmp_path):
    assert self_check({"backend": "openai", "model": "gpt-3.5-turbo"}, str(tmp_path)) is None


@pytest.mark.slow
def test_the_embedded_llamacpp_teacher_passes_its_self_check(cache_dir):
    pytest.importorskip("llama_cpp")
    teacher = {"backend": "llamacpp", "model": "embedded:smollm2-135m-instruct", "temperature": 1.0, "top_p": 1.0,
               "max_tokens": 160, "structured": "auto", "no_copy_ngram": 4, "n_threads": 1}
    seconds = self_check(teacher, str(cache_dir))
    assert isinstance(seconds, float) and seconds > 0  # the child ran the teacher and exited 0
