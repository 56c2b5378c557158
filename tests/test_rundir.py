"""Run directory bookkeeping: which config differences make a directory someone else's."""

from __future__ import annotations

import pytest

from llm2llm.errors import ConfigError
from llm2llm.rundir import RunDir, config_diff, result_config


def cfg(method: str, **teacher) -> dict:
    return {"task": {"name": "sst2"}, "method": {"name": method}, "seed": 0, "data_dir": "/a",
            "tracking": {"project": "p"}, "teacher": {"model": "m", **teacher}}


def test_config_diff_names_dotted_keys():
    assert config_diff({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 4}) == ["a.c", "d"]


def test_teacher_matters_only_to_methods_that_use_one():
    assert config_diff(result_config(cfg("finetune")), result_config(cfg("finetune", max_tokens=9))) == []
    assert config_diff(result_config(cfg("llm2llm")), result_config(cfg("llm2llm", max_tokens=9))) == ["teacher.max_tokens"]
    # paths on this machine and logging never do
    moved = dict(cfg("llm2llm"), data_dir="/b", tracking={"project": "q"})
    assert config_diff(result_config(cfg("llm2llm")), result_config(moved)) == []


def test_claim_refuses_another_configs_directory(tmp_path):
    rd = RunDir(tmp_path)
    rd.claim(cfg("llm2llm"), {"git_sha": "x"})
    rd.claim(cfg("llm2llm"), {"git_sha": "y"})  # same config: fine (resume)
    with pytest.raises(ConfigError, match="differs in: teacher.max_tokens"):
        rd.claim(cfg("llm2llm", max_tokens=9), {})
