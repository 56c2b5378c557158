"""lm-evaluation-harness as an independent evaluator: on a tiny random model and real SST-2 test
examples, lm-eval's multiple_choice task (generated from llm2llm's prompts, local data, no hub) and
llm2llm's label scoring must pick the same label for every example."""

from __future__ import annotations

import json

import pytest

from student_fixtures import sst2_task

pytest.importorskip("lm_eval", reason="the lm-eval extra is not installed")


@pytest.fixture(scope="module")
def crosscheck(tiny_llama, tmp_path_factory):
    from llm2llm.lm_eval_check import compare
    from llm2llm.models import load_model, load_tokenizer

    task = sst2_task()
    examples = task.load("test")[:24]
    model = load_model(tiny_llama, "float32")
    tok = load_tokenizer(tiny_llama)
    out = tmp_path_factory.mktemp("lmeval") / "out"
    return compare(model, tok, task, examples, out, max_length=256, max_new_tokens=4, batch_size=8), out


def test_both_evaluators_agree_exactly_on_label_scoring(crosscheck):
    result, out = crosscheck
    score = result["score"]
    assert score["examples"] == 24
    assert score["same_prediction"] == 24 and score["disagree_ids"] == []
    assert score["llm2llm_accuracy"] == score["lm_eval_acc"]
    # not only the argmax: the gaps between labels' log-likelihoods are the same numbers
    assert score["max_abs_diff_of_label_logprob_differences"] < 1e-4
    assert json.loads((out / "crosscheck.json").read_text()) == result


def test_generated_task_uses_llm2llm_prompts_and_local_data(crosscheck):
    import yaml

    result, out = crosscheck
    spec = yaml.safe_load((out / "tasks" / "llm2llm_sst2_score.yaml").read_text())
    assert spec["dataset_path"] == "json" and spec["dataset_kwargs"]["data_files"]["test"].endswith("documents.jsonl")
    docs = [json.loads(line) for line in (out / "documents.jsonl").read_text().splitlines()]
    assert len(docs) == 24 and docs[0]["prompt"].startswith("<|im_start|>")
    assert all(c.endswith("<|im_end|>") for c in docs[0]["choices"])
    gen = [json.loads(line) for line in (out / "samples_llm2llm_sst2_generate.jsonl").read_text().splitlines()]
    assert len(gen) == 24 and 0 <= result["generate"]["lm_eval_exact_match"] <= 1


def test_unfinished_or_missing_runs_are_one_error_line(tmp_path, capsys):
    from llm2llm.lm_eval_check import main

    assert main([str(tmp_path / "missing")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    assert main([str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "has not finished" in err and "--iteration" in err
    assert main([str(tmp_path / "run"), "--iteration", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
