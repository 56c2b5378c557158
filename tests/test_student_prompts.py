"""Student prompts as template files: the built-in files render exactly the prompts the tasks wrote
before they were data (so default runs keep their predictions), a user's own train and eval
templates replace them, and a broken template fails at start-up naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from student_fixtures import DATA_DIR

from llm2llm.config import TaskConfig
from llm2llm.errors import ConfigError
from llm2llm.tasks import build_task

# The prompts as the task classes wrote them in code (the reference the built-in templates must match).
GSM8K_REF = ("Solve the math word problem. Show your calculation step by step, then give the final numeric answer "
             "on its own line as '#### <number>'.\n\nQuestion: {text}")
CASEHOLD_REF = ("Which holding does the <HOLDING> placeholder in this excerpt from a US court opinion refer to? "
                "Answer with one letter (A-E).\n\nExcerpt: {text}\n\nOptions:\n{options}")


def classification_ref(task, ex) -> str:
    if not task.lists_labels():
        return f"{task.instruction}\n\n{task.input_name}: {ex.text}"
    return f"{task.instruction} Answer with one of: {', '.join(task.labels)}.\n\n{task.input_name}: {ex.text}"


def task_of(name: str, **kw):
    return build_task(OmegaConf.structured(TaskConfig(name=name, **kw)), DATA_DIR)


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def jsonl_task(tmp_path: Path, n_labels: int, **kw):
    rows = [{"text": f"request number {i} about topic {i % n_labels}", "label": f"intent_{i % n_labels:02d}"}
            for i in range(2 * n_labels)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    return build_task(OmegaConf.structured(TaskConfig(name="jsonl", train_file=train, test_file=train, **kw)))


@pytest.mark.parametrize("name", ["sst2", "trec", "snips"])
def test_builtin_classification_prompts_are_unchanged(name):
    task = task_of(name)
    for ex in task.load("test")[:20]:
        assert task.prompt(ex) == task.prompt(ex, "eval") == classification_ref(task, ex)
        assert task.labels_in_prompt("eval")


def test_builtin_gsm8k_and_casehold_prompts_are_unchanged():
    gsm = task_of("gsm8k")
    for ex in gsm.load("test")[:20]:
        assert gsm.prompt(ex) == gsm.prompt(ex, "eval") == GSM8K_REF.format(text=ex.text)
        assert gsm.plain_prompt(gsm.prompt(ex)) == gsm.prompt(ex) + "\n\nAnswer:"  # a base model's text, as before
    ch = task_of("casehold")
    for ex in ch.load("test")[:5]:
        options = "\n".join(f"{'ABCDE'[i]}. {c}" for i, c in enumerate(ex.choices))
        assert ch.prompt(ex, "eval") == CASEHOLD_REF.format(text=ex.text, options=options)
    assert ch.labels_in_prompt("eval")  # the options are the answer choices


@pytest.mark.parametrize("n_labels,list_labels,listed", [(5, "auto", True), (30, "auto", False), (30, "true", True),
                                                         (5, "false", False)])
def test_builtin_jsonl_prompts_are_unchanged(tmp_path, n_labels, list_labels, listed):
    task = jsonl_task(tmp_path, n_labels, list_labels=list_labels)
    ex = task.load("test")[3]
    assert task.prompt(ex) == classification_ref(task, ex)
    assert task.labels_in_prompt("eval") is listed
    assert task.eval_mode()[0] == ("generate" if listed else "score")  # eval.mode=auto


def test_jsonl_qa_prompt_is_unchanged(tmp_path):
    train = write_jsonl(tmp_path / "qa.jsonl", [{"text": "2+2?", "label": "four #### 4"}] * 3)
    task = build_task(OmegaConf.structured(TaskConfig(name="jsonl", kind="qa", train_file=train, test_file=train)))
    ex = task.load("test")[0]
    assert task.prompt(ex) == "Answer the question.\n\nInput: 2+2?"
    assert task.eval_mode() == ("generate", "eval.mode=auto: free-form answers")


def test_the_student_tokens_are_the_prompt_rendered_through_the_chat_template(smollm2_tokenizer):
    from llm2llm.models import load_tokenizer
    from llm2llm.student.data import prompt_ids

    tok = load_tokenizer(smollm2_tokenizer)
    task = task_of("sst2")
    ex = task.load("test")[0]
    text = tok.apply_chat_template([{"role": "user", "content": classification_ref(task, ex)}], tokenize=False,
                                   add_generation_prompt=True)
    assert prompt_ids(tok, task, ex) == prompt_ids(tok, task, ex, "eval") == tok(text, add_special_tokens=False)["input_ids"]


# Templates of the same shape as the public code's GSM8K prompts (their own wording, not the official text).
OWN_TRAIN = 'prompt: "A maths question follows.\\n\\n{question}\\n\\nAnswer:"\nplain: "{prompt}"\n'
OWN_EVAL = 'prompt: "Work this out one step at a time.\\n\\n{question}\\n\\nAnswer:"\nplain: "{prompt}"\n'


def test_own_train_and_eval_templates(tmp_path, smollm2_tokenizer):
    (tmp_path / "train.yaml").write_text(OWN_TRAIN)
    (tmp_path / "eval.yaml").write_text(OWN_EVAL)
    task = task_of("gsm8k", train_prompt=str(tmp_path / "train.yaml"), eval_prompt=str(tmp_path / "eval.yaml"))
    ex = task.load("test")[0]
    assert task.prompt(ex, "train") == f"A maths question follows.\n\n{ex.text}\n\nAnswer:"
    assert task.prompt(ex, "eval") == f"Work this out one step at a time.\n\n{ex.text}\n\nAnswer:"
    # a base model (no chat template) sees exactly the prompt: no second 'Answer:' appended
    assert task.plain_prompt(task.prompt(ex, "eval"), "eval") == task.prompt(ex, "eval")
    from llm2llm.student.data import encode, prompt_ids
    from llm2llm.models import load_tokenizer

    tok = load_tokenizer(smollm2_tokenizer)
    enc = encode(tok, task, ex, 1024)  # training uses the train template, evaluation the eval one
    assert enc["input_ids"][:len(prompt_ids(tok, task, ex, "train"))] == prompt_ids(tok, task, ex, "train")
    assert prompt_ids(tok, task, ex, "eval") != prompt_ids(tok, task, ex, "train")
    only_train = task_of("gsm8k", train_prompt=str(tmp_path / "train.yaml"))
    assert only_train.prompt(ex, "eval") == only_train.prompt(ex, "train")  # eval_prompt null: the same file


def test_own_classification_template_without_labels_is_scored_under_auto(tmp_path):
    (tmp_path / "t.yaml").write_text('prompt: "{text}"\n')
    task = task_of("sst2", eval_prompt=str(tmp_path / "t.yaml"))
    assert not task.labels_in_prompt("eval") and task.eval_mode()[0] == "score"
    assert task.labels_in_prompt("train")  # the built-in train prompt still names them


@pytest.mark.parametrize("text,message", [
    ('prompt: "{question} {gold}"\n', "unknown placeholder(s) ['gold']"),
    ('prompt: "a { b"\n', "not a valid template"),
    ('user: "x"\n', "needs a 'prompt' string"),
    ('prompt: "x"\nsystem: "y"\n', "unknown key(s) ['system']"),
    ('prompt: "x"\nplain: "Q:"\n', "'plain' must contain {prompt}"),
    ('prompt: [\n', "not valid YAML"),
])
def test_a_broken_template_is_one_error_naming_the_file(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        task_of("gsm8k", eval_prompt=str(path))
    assert str(path) in str(e.value) and message in str(e.value)
    with pytest.raises(ConfigError, match="not found"):
        task_of("gsm8k", train_prompt=str(tmp_path / "missing.yaml"))
