"""The eval config group: sampled evaluation that repeats exactly, GSM8K's strict and official answer
extractions side by side, eval.mode=auto for an own task with many labels (end to end through
train.py), and the settings checked at start-up."""

from __future__ import annotations

import json
import random

import pytest
from omegaconf import OmegaConf

from cli_helpers import CACHE_DIR, ROOT, train_env, train_py
from student_fixtures import DATA_DIR, student_cfg, trainer_cfg

from llm2llm.config import EvalConfig, TaskConfig
from llm2llm.errors import ConfigError
from llm2llm.example import Example
from llm2llm.tasks import build_task


def gsm8k(**eval_kw):
    return build_task(OmegaConf.structured(TaskConfig(name="gsm8k")), DATA_DIR, EvalConfig(**eval_kw))


# ------------------------------------------------------------------ extraction
def gold(answer: str) -> Example:
    return Example(id="g", text="q", answer=f"Some working.\n#### {answer}")


@pytest.mark.parametrize("output,answer,strict,official", [
    # a clean answer: both agree
    ("3 + 4 = 7\n#### 7", "7", True, True),
    # the sign: strict keeps it, official drops every character but digits and '.'
    ("2 - 7 = -5\n#### -5", "5", False, True),
    ("#### -5", "-5", True, True),
    # run-on text after the marker: official keeps the digits of the whole line ("5 then 6" reads as 56)
    ("#### 5 then 6", "56", False, True),
    ("#### 5 then 6", "5", True, False),
    # several markers: official takes the first, strict the last
    ("#### 12\nWait, I made a mistake.\n#### 15", "15", True, False),
    ("#### 12\nWait, I made a mistake.\n#### 15", "12", False, True),
    # '#' runs of any length followed by a space count for official ('## 8'); strict needs '####'
    ("The answer is\n## 8", "8", False, True),
    # thousands commas and a dollar sign: both read 1000
    ("#### $1,000", "1000", True, True),
    # a number that is not one for official: '3.5.' is not a float, so its text is compared
    ("#### 3.5.", "3.5", True, False),
    # no marker at all
    ("The answer is 7.", "7", False, False),
])
def test_strict_and_official_extraction_on_hand_written_outputs(output, answer, strict, official):
    judged = gsm8k().judge(output, gold(answer))
    assert judged["strict"][1] is strict and judged["official"][1] is official


def test_the_extraction_in_use_decides_correct_and_both_are_recorded():
    from llm2llm.student.evaluation import evaluation_metrics, judge_outputs

    examples = [gold("5"), gold("5"), gold("7")]
    outputs = ["#### -5", "#### 5 then 6\n#### 5", "#### 7"]
    for extraction, correct in (("strict", [False, True, True]), ("official", [True, False, True])):
        preds = judge_outputs(gsm8k(extraction=extraction), examples, outputs, extraction)
        assert [p.correct for p in preds] == correct
    rows = [p.to_dict() for p in preds]
    assert rows[0]["correct_by"] == {"strict": False, "official": True}
    m = evaluation_metrics({"mode": "generate"}, False, rows, rows[:1])
    assert m["test_accuracy_strict"] == pytest.approx(2 / 3) and m["test_accuracy_official"] == pytest.approx(2 / 3)
    assert m["seed_accuracy_strict"] == 0 and m["seed_accuracy_official"] == 1


def test_official_extraction_reads_the_completion_not_the_built_in_prompt():
    """The built-in GSM8K prompt asks for a '#### <number>' line: searched together with the
    completion (as the public code searches the decoded prompt + completion) it would be every
    output's first match."""
    task = gsm8k()
    ex = task.load("test")[0]
    from llm2llm.tasks.gsm8k import official_answer

    assert official_answer(task.prompt(ex, "eval")) == "<number>'."
    assert task.judge(f"... so she makes 18.\n#### {task.gold(ex)}", ex)["official"][1]


# ------------------------------------------------------------------ sampling
def test_sampled_generation_repeats_exactly_and_does_not_depend_on_the_batch(tiny_llama):
    from llm2llm.models import load_model, load_tokenizer
    from llm2llm.student.evaluation import sampling_seeds
    from llm2llm.student.predict import generate

    model, tok = load_model(tiny_llama, "float32").eval(), load_tokenizer(tiny_llama)
    task = gsm8k(decoding="sample", max_new_tokens=8)
    examples = task.load("test")[:4]
    kw = dict(max_new_tokens=8, max_length=256, do_sample=True, temperature=0.7, top_k=50, top_p=0.9)
    seeds = sampling_seeds(0, examples)
    first = generate(model, tok, task, examples, batch_size=4, seeds=seeds, **kw)
    assert generate(model, tok, task, examples, batch_size=4, seeds=seeds, **kw) == first
    assert generate(model, tok, task, examples, batch_size=1, seeds=seeds, **kw) == first  # alone, one at a time
    order = [3, 1, 0, 2]
    shuffled = generate(model, tok, task, [examples[i] for i in order], batch_size=3,
                        seeds=[seeds[i] for i in order], **kw)
    assert shuffled == [first[i] for i in order]
    other = generate(model, tok, task, examples, batch_size=4, seeds=sampling_seeds(1, examples), **kw)
    assert other != first  # another run seed samples other tokens
    greedy = generate(model, tok, task, examples, batch_size=4, max_new_tokens=8, max_length=256)
    assert greedy != first and len(set(first)) > 1
    assert sampling_seeds(0, examples) == seeds and len(set(seeds)) == len(seeds)


def test_student_predict_with_the_paper_eval_repeats_exactly(tiny_llama, capsys):
    from llm2llm.student import Student

    def run(seed: int) -> list[dict]:
        task = gsm8k(name="paper", decoding="sample", max_new_tokens=10, extraction="official")
        student = Student(student_cfg(tiny_llama), trainer_cfg(eval_batch_size=3), task, str(CACHE_DIR), seed)
        try:
            return [p.to_dict() for p in student.predict(None, task.load("test")[:5])]
        finally:
            student.release()

    a, b, c = run(0), run(0), run(1)
    assert a == b and a != c
    assert all(set(p["correct_by"]) == {"strict", "official"} for p in a)
    out = capsys.readouterr().out
    assert "evaluation: sample generation, up to 10 new tokens (temperature 0.7, top_k 50, top_p 0.9, seeded per " \
           "example), official answer extraction [eval.mode=auto: free-form answers; eval=paper]" in out


def test_vllm_evaluation_cannot_score_labels(tiny_llama, monkeypatch, tmp_path):
    """eval.mode=auto resolving to scoring under student.eval_backend=vllm is one clear error (vLLM itself
    is not installed here: require_vllm is bypassed, nothing of vLLM runs)."""
    from llm2llm.student import Student
    import llm2llm.student.vllm_eval as V

    monkeypatch.setattr(V, "require_vllm", lambda: None)
    (tmp_path / "t.yaml").write_text('prompt: "{text}"\n')
    task = build_task(OmegaConf.structured(TaskConfig(name="sst2", eval_prompt=str(tmp_path / "t.yaml"))), DATA_DIR)
    cfg = student_cfg(tiny_llama)
    cfg.eval_backend = "vllm"
    with pytest.raises(ConfigError, match="label scoring .* runs on hf"):
        Student(cfg, trainer_cfg(), task, str(tmp_path), 0).predict(None, task.load("test")[:2])


# ------------------------------------------------------------------ config
def compose(*overrides: str):
    from hydra import compose as hydra_compose, initialize_config_dir

    from llm2llm.schemas import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base=None):
        return hydra_compose(config_name="config", overrides=list(overrides))


def test_default_eval_is_todays_behaviour_and_paper_is_the_public_codes():
    from llm2llm.config import validate

    d = validate(compose()).eval
    assert (d.mode, d.decoding, d.max_new_tokens, d.extraction) == ("auto", "greedy", None, "strict")
    p = validate(compose("task=gsm8k", "eval=paper")).eval
    assert (p.decoding, p.temperature, p.top_k, p.top_p, p.max_new_tokens, p.extraction) == \
        ("sample", 0.7, 50, 0.9, 100, "official")
    for override, allowed in (("eval.mode=bogus", "[auto, generate, score]"), ("eval.decoding=beam", "[greedy, sample]"),
                              ("eval.extraction=loose", "[strict, official]")):
        with pytest.raises(Exception) as e:  # Hydra refuses the value while composing, naming the choices
            compose(override)
        assert f"expected one of {allowed}" in str(e.value.__cause__) and "eval." in str(e.value)
    with pytest.raises(ConfigError, match="eval.extraction: official is the public code's GSM8K scorer"):
        validate(compose("task=trec", "eval.extraction=official"))


def test_generated_outputs_that_name_no_label_are_counted_and_warned_about(caplog):
    from llm2llm.student.evaluation import evaluation_metrics, judge_outputs, warn_non_labels

    task = build_task(OmegaConf.structured(TaskConfig(name="sst2")), DATA_DIR, EvalConfig(mode="generate"))
    examples = task.load("test")[:4]
    preds = judge_outputs(task, examples, ["positive", "card_location", "Negative.", "I am not sure"], "strict")
    assert [p.prediction for p in preds] == ["positive", None, "negative", None]
    with caplog.at_level("WARNING", logger="llm2llm.student"):
        assert warn_non_labels(task, preds, "iter 0 test") == 2
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["iter 0 test: 2 of 4 generated outputs are not one of the 2 labels and count as wrong; "
                     "eval.mode=score picks the most likely label instead"]
    rows = [p.to_dict() for p in preds]
    assert "correct_by" not in rows[0]  # one extraction: the prediction rows keep their old shape
    m = evaluation_metrics({"mode": "generate"}, True, rows, rows[:1])
    assert (m["test_non_label_outputs"], m["seed_non_label_outputs"]) == (2, 0)


# ------------------------------------------------------------------ own task with many labels
@pytest.mark.slow
def test_own_task_with_many_labels_is_label_scored_by_default(tmp_path, tiny_llama):
    """task=jsonl with 30 intents (more than the 20 a prompt names), everything else default: the run
    scores labels, says so in one line and in its metrics, and every test prediction is a label."""
    rng = random.Random(0)
    labels = [f"intent_{w}" for w in ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
                                      "november oscar papa quebec romeo sierra tango uniform victor whiskey xray "
                                      "yankee zulu one two three four").split()]
    def rows(n: int) -> str:
        return "".join(json.dumps({"text": f"please do {rng.choice(['the', 'a'])} {lab.split('_')[1]} thing {i}",
                                   "label": lab}) + "\n" for i, lab in enumerate(rng.choices(labels, k=n)))
    (tmp_path / "train.jsonl").write_text(rows(90) + "".join(json.dumps({"text": f"x {l}", "label": l}) + "\n"
                                                             for l in labels))
    (tmp_path / "test.jsonl").write_text(rows(12))
    proc = train_py("task=jsonl", f"task.train_file={tmp_path / 'train.jsonl'}", f"task.test_file={tmp_path / 'test.jsonl'}",
                    "method=finetune", f"student.model={tiny_llama}", "trainer.max_steps=1", "tracking=none",
                    f"hydra.run.dir={tmp_path / 'run'}", env=train_env(WANDB_MODE="offline", OMP_NUM_THREADS="2"),
                    timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "evaluation: label scoring: the most likely of 30 labels [eval.mode=auto: the eval prompt does not name " \
           "the 30 labels; eval=default]" in proc.stdout
    run = tmp_path / "run"
    preds = [json.loads(l) for l in (run / "iter_0" / "predictions_test.jsonl").read_text().splitlines()]
    assert len(preds) == 12 and all(p["prediction"] in labels for p in preds)
    metrics = json.loads((run / "iter_0" / "metrics.json").read_text())
    assert metrics["evaluation"]["mode"] == "score" and "does not name the 30 labels" in metrics["evaluation"]["why"]
    results = json.loads((run / "results.json").read_text())
    assert results["iterations"][0]["evaluation"]["mode"] == "score"
