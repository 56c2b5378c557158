"""Bad input through the real entry point: one clear error line, non-zero exit, before any model loads.

Every case sets ``student.model`` to a path that does not exist: if the harness got as far as
loading a model, the error would be about that path instead of the bad input under test.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from cli_helpers import train_py

NO_MODEL = "student.model=/nonexistent/model"


def run_train(*overrides: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return train_py(NO_MODEL, "tracking=none", f"hydra.run.dir={tmp_path / 'run'}", *overrides, timeout=120)


def error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("error: ")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def jsonl_task(tmp_path: Path, train_text: bytes, labels: str = "[yes,no]") -> list[str]:
    train = tmp_path / "train.jsonl"
    train.write_bytes(train_text)
    test = tmp_path / "test.jsonl"
    test.write_text('{"text": "is it?", "label": "yes"}\n')
    return ["task=jsonl", f"task.train_file={train}", f"task.test_file={test}", f"task.labels={labels}", "task.seed_size=1"]


GOOD = b'{"text": "a", "label": "yes"}\n{"text": "b", "label": "no"}\n'


def test_missing_file(tmp_path):
    line = error_line(run_train(*jsonl_task(tmp_path, GOOD), f"task.test_file={tmp_path / 'nope.jsonl'}", tmp_path=tmp_path))
    assert "nope.jsonl: file not found" in line


def test_missing_data_dir(tmp_path):
    line = error_line(run_train("task=trec", f"data_dir={tmp_path / 'nodata'}", tmp_path=tmp_path))
    assert "nodata/trec" in line and "not found" in line


def test_malformed_jsonl_names_file_and_line(tmp_path):
    line = error_line(run_train(*jsonl_task(tmp_path, GOOD + b'{"text": "c", "label": \n'), tmp_path=tmp_path))
    assert "train.jsonl:3: malformed JSON" in line


def test_unreadable_encoding(tmp_path):
    line = error_line(run_train(*jsonl_task(tmp_path, GOOD + '{"text": "caf\xe9", "label": "no"}\n'.encode("latin-1")), tmp_path=tmp_path))
    assert "train.jsonl" in line and "UTF-8" in line


def test_missing_field(tmp_path):
    line = error_line(run_train(*jsonl_task(tmp_path, GOOD + b'{"txt": "c", "label": "no"}\n'), tmp_path=tmp_path))
    assert "train.jsonl:3: missing field(s) ['text']" in line


def test_label_outside_label_set(tmp_path):
    line = error_line(run_train(*jsonl_task(tmp_path, GOOD + b'{"text": "c", "label": "maybe"}\n'), tmp_path=tmp_path))
    assert "train.jsonl:3" in line and "'maybe' is not in the label set" in line


@pytest.mark.parametrize("size,expected", [("3", "larger than the split"), ("0", "task.seed_size"), ("0.1", "below 1 example")])
def test_bad_seed_size(tmp_path, size, expected):
    overrides = jsonl_task(tmp_path, GOOD) + [f"task.seed_size={size}"]
    line = error_line(run_train(*overrides, tmp_path=tmp_path))
    assert expected in line


def test_unknown_task(tmp_path):
    proc = run_train("task.name=nosuch", tmp_path=tmp_path)
    assert "unknown task 'nosuch'" in error_line(proc)


def test_unknown_task_group_option(tmp_path):
    proc = run_train("task=nosuch", tmp_path=tmp_path)
    assert proc.returncode != 0 and "Could not find 'task/nosuch'" in proc.stderr


def test_typo_key_names_the_key(tmp_path):
    proc = run_train("task.seed_sizee=3", tmp_path=tmp_path)
    assert proc.returncode != 0 and "Key 'seed_sizee' not in 'TaskConfig'" in proc.stderr


def test_wrong_type_names_the_key(tmp_path):
    proc = run_train("method.iterations=many", tmp_path=tmp_path)
    assert proc.returncode != 0 and "method.iterations" in proc.stderr


def test_a_key_added_with_plus_plus_that_the_method_lacks_is_refused(tmp_path):
    """``++`` lets Hydra add a key to any schema; nothing would read it, so the run refuses it."""
    proc = run_train("method=finetune", "++method.num_aug=2", tmp_path=tmp_path)
    assert error_line(proc) == ("error: method.num_aug: not a setting of FinetuneConfig (its keys: name, "
                                "iterations): nothing would read it")
    assert proc.returncode == 2 and not (tmp_path / "run" / "config.json").exists()


def test_a_multirun_override_of_a_swept_groups_key_names_the_choices_that_lack_it(tmp_path):
    """The other cases of this check run in-process: test_config_schemas.py."""
    runs = tmp_path / "runs"
    proc = train_py("-m", NO_MODEL, "tracking=none", "method=llm2llm,auggpt,finetune", "method.k=2", timeout=120,
                    env={**os.environ, "LLM2LLM_RUNS_DIR": str(runs)})
    assert proc.returncode == 2 and error_line(proc) == (
        "error: method.k=2: set for every job of this multirun, but method=auggpt,finetune has no setting k: "
        "sweep it only with the methods that have it, or run those separately")
    assert not runs.exists()  # refused before Hydra made any directory


def test_missing_required_value_names_the_key(tmp_path):
    line = error_line(run_train("teacher=openai-compatible", tmp_path=tmp_path))
    assert "teacher.model: missing required value" in line or "teacher.base_url: missing required value" in line


def test_iterations_below_one(tmp_path):
    assert "method.iterations: must be >= 1" in error_line(run_train("method.iterations=0", tmp_path=tmp_path))


def test_bad_input_overwrites_nothing(tmp_path):
    earlier = tmp_path / "run" / "results.json"
    earlier.parent.mkdir()
    earlier.write_text('{"earlier": true}')
    run_train(*jsonl_task(tmp_path, GOOD + b"oops\n"), tmp_path=tmp_path)
    assert earlier.read_text() == '{"earlier": true}'
    ours = {p.name for p in (tmp_path / "run").iterdir() if p.name not in (".hydra", "train.log")}
    assert ours == {"results.json"}


def test_cfg_job_shows_composed_config():
    proc = train_py("task=trec", "method=finetune", "--cfg", "job", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "name: trec" in proc.stdout and "name: finetune" in proc.stdout
    assert "api_key" not in proc.stdout.replace("api_key_env", "")


def test_unreachable_teacher_fails_before_training(tmp_path, data_dir):
    import socket

    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_train("task=trec", "task.seed_size=4", f"data_dir={data_dir}", "teacher=openai-compatible",
                     f"teacher.base_url=http://127.0.0.1:{port}/v1", "teacher.model=m", "teacher.max_retries=0",
                     "teacher.timeout_s=5", tmp_path=tmp_path)
    line = error_line(proc)
    assert f"127.0.0.1:{port}" in line
    assert not (tmp_path / "run" / "iter_0").exists()


@pytest.mark.parametrize("override,expected", [
    ("trainer.learning_rate=-2e-5", "trainer.learning_rate: must be > 0, got -2e-05"),
    ("trainer.epochs=0", "trainer.epochs: must be > 0 (or set trainer.max_steps), got 0.0"),
    ("teacher.temperature=-0.5", "teacher.temperature: must be >= 0, got -0.5"),
    ("eval.temperature=0", "eval.temperature: must be > 0, got 0.0"),
    ("eval.top_p=1.5", "eval.top_p: must be in (0, 1], got 1.5"),
    ("eval.extraction=official", "eval.extraction: official is the public code's GSM8K scorer; task 'jsonl' has only strict"),
    ("trainer.warmup_ratio=-0.1", "trainer.warmup_ratio: must be in [0, 1), got -0.1"),
    ("student.max_length=0", "student.max_length: must be >= 2, got 0"),
    ("trainer.per_device_batch_size=0", "trainer.per_device_batch_size: must be >= 1, got 0"),
])
def test_numeric_settings_that_cannot_work_fail_at_start_up(tmp_path, override, expected):
    earlier = tmp_path / "run" / "results.json"
    earlier.parent.mkdir()
    earlier.write_text('{"earlier": true}')
    line = error_line(run_train(*jsonl_task(tmp_path, GOOD), override, tmp_path=tmp_path))
    assert line == f"error: {expected}"
    assert earlier.read_text() == '{"earlier": true}'
    assert {p.name for p in (tmp_path / "run").iterdir()} - {".hydra", "train.log"} == {"results.json"}


def test_labels_inferred_from_a_train_file_with_a_bom_are_recorded(tmp_path):
    """No task.labels: the label set comes from the train file (sorted) and lands in config.json."""
    overrides = [o for o in jsonl_task(tmp_path, b"\xef\xbb\xbf" + GOOD + b'{"text": "c", "label": "maybe"}\n')
                 if not o.startswith("task.labels=")]
    proc = run_train(*overrides, "method=finetune", tmp_path=tmp_path)
    assert "/nonexistent/model" in error_line(proc)  # it got as far as loading the student: the data was fine
    assert "3 labels inferred from" in proc.stdout and "maybe, no, yes" in proc.stdout
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["task"]["labels"] == ["maybe", "no", "yes"]
