"""Unit tests of the teacher's prompt templates, parsers and validators, on real seed examples
(from the shared data folder) and on broken outputs. No model, no server."""

from __future__ import annotations

import json

import pytest

from llm2llm.config import TaskConfig
from llm2llm.errors import ConfigError
from llm2llm.tasks import build_task
from llm2llm.teacher.formats import Rejected, check_calculations, safe_arith, split_rationale
from llm2llm.teacher.output_format import output_format, parse_output
from llm2llm.teacher.prompts import load_template, placeholders
from teacher_fixtures import load_split


def reason(output, parent, task, mode="augment", check_calcs=False) -> str:
    with pytest.raises(Rejected) as e:
        parse_output(output, parent, task, mode, check_calcs)
    return e.value.reason


# ------------------------------------------------------------------------------- GSM8K
def test_gsm8k_real_examples_parse_as_teacher_output():
    task, train = load_split("gsm8k", "train")
    parent = train[0]
    for other in train[1:30]:
        rationale, number = split_rationale(other.answer)
        p = parse_output(f"Question: {other.text}\nAnswer: {rationale}\n#### {number}", parent, task)
        assert p.text == other.text
        assert task.parse(p.answer) == task.gold(other)
        assert p.answer.endswith(f"\n#### {number}") and p.answer.count("####") == 1


def test_gsm8k_a_huge_structured_answer_is_parsed_not_a_crash():
    """The embedded teacher once answered a JSON "answer" of about 1e300: turning it into plain text
    and canonicalising it raised decimal.InvalidOperation and stopped the whole teacher call."""
    task, train = load_split("gsm8k", "train")
    q = "Tom has 3 boxes of 4 pens each. How many pens does he have?"
    reply = json.dumps({"question": q, "rationale": "3 * 4 = 12 and then many more", "answer": 1e300})
    p = parse_output(output_format(task).to_plain(reply, task, train[0]), train[0], task)
    assert task.parse(p.answer) == str(int(1e300)) and p.text == q  # the float as JSON gave it, all 301 digits


def test_gsm8k_lenient_wrapping_but_strict_answer():
    task, train = load_split("gsm8k", "train")
    parent = train[0]
    q = "Tom has 3 boxes of 4 pens each. How many pens does he have?"
    ok = [
        f"1. Question: {q}\nAnswer: 3 * 4 = <<3*4=12>>12\n#### 12",                  # the public code's numbering
        f"**Question:** {q}\n**Answer:** 3 * 4 = 12\n#### 12\n\nI hope this helps!",  # bold, trailing chatter
        f"Sure! Here it is.\nQuestion: {q}\nAnswer: 3*4=12\n#### 12.",               # preamble, final period
    ]
    for out in ok:
        p = parse_output(out, parent, task)
        assert p.text == q and p.answer.endswith("#### 12")
    p = parse_output(f"Question: {q}\nAnswer: 3 * 400 = 1,200\n#### 1,200", parent, task)
    assert p.answer.endswith("#### 1200")
    # only the first of several problems counts
    p = parse_output(f"Question: {q}\nAnswer: 3*4=12\n#### 12\nQuestion: other?\nAnswer: 1\n#### 1", parent, task)
    assert p.answer.endswith("#### 12")


@pytest.mark.parametrize("output,expected", [
    ("", "empty"),
    ("   \n ", "empty"),
    ("Here is a problem about pens.", "no_question"),
    ("Question: How many pens?", "no_answer"),
    ("Question: How many pens?\nAnswer: 3 * 4 = 12", "no_final_answer"),
    ("Question: How many pens?\nAnswer: 3 * 4 = 12\n#### 12\n#### 13", "multiple_final_answers"),
    ("Question: How many pens?\nAnswer: 3 * 4 = 12\n#### twelve", "bad_final_answer"),
    ("Question: How many pens?\nAnswer: 3 * 4 = 12\n#### 12 pens", "bad_final_answer"),
    ("Question: How many pens?\nAnswer: 3 * 4 = 12\n#### 1/2", "bad_final_answer"),
    ("Question: How many pens?\nAnswer: #### 12", "no_calculation"),
    ("Question: \nAnswer: 3 * 4 = 12\n#### 12", "empty"),
    ("Question: [QUESTION]\nAnswer: 3 * 4 = 12\n#### 12", "template_echo"),
])
def test_gsm8k_broken_outputs(output, expected):
    task, train = load_split("gsm8k", "train")
    assert reason(output, train[0], task) == expected


def test_gsm8k_echo_and_too_long():
    task, train = load_split("gsm8k", "train")
    parent = train[0]
    rationale, n = split_rationale(parent.answer)
    assert reason(f"Question: {parent.text.upper()}\nAnswer: {rationale}\n#### {n}", parent, task) == "echo"
    assert reason(f"Question: {'How many? ' * 500}\nAnswer: 1+1=2\n#### 2", parent, task) == "too_long"


def test_calculation_check_on_real_rationales_and_broken_ones():
    task, train = load_split("gsm8k", "train")
    assert all(check_calculations(e.answer) == [] for e in train[:500])
    assert check_calculations("3 * 4 = <<3*4=13>>13") == ["<<3*4=13>>"]
    assert check_calculations("10/3 = <<10/3=3.33>>3.33 and <<2/3=0.67>>0.67") == []
    assert check_calculations("<<1,000+2=1,002>>") == []
    assert check_calculations("<<__import__('os').system('x')=0>>") != []  # not arithmetic: rejected, not run
    q = "Tom has 3 boxes of 4 pens each. How many pens does he have?"
    out = f"Question: {q}\nAnswer: 3 * 4 = <<3*4=13>>13\n#### 13"
    assert parse_output(out, train[0], task).answer.endswith("#### 13")          # off by default (paper)
    assert reason(out, train[0], task, check_calcs=True) == "bad_calculation"


@pytest.mark.parametrize("expr", ["__import__('os')", "open('x')", "a + 1", "[1, 2]", "2 ** 10000000", "1 if 1 else 2",
                                  "(lambda: 1)()", "1/0"])
def test_safe_arith_refuses_everything_but_arithmetic(expr):
    with pytest.raises(ValueError):
        safe_arith(expr)


def test_safe_arith_values():
    assert safe_arith("100-50-30-15") == 5
    assert safe_arith("2**3 + 10 % 4 - -1") == 11
    assert safe_arith("1,000 * $2") == 2000


# ------------------------------------------------------------------------ classification
@pytest.mark.parametrize("name", ["sst2", "trec", "snips"])
def test_classification_real_examples(name):
    task, train = load_split(name, "train")
    parent, other = train[0], next(e for e in train[1:] if e.answer != train[0].answer)
    out = f"{task.input_name}: {other.text}\nLabel: {parent.answer}"
    p = parse_output(out, parent, task)
    assert p.text == other.text.strip() and p.answer == parent.answer and p.choices is None
    # the label is the parent's even when the teacher names none
    assert parse_output(f"{task.input_name}: {other.text}", parent, task).answer == parent.answer
    # naming another label (the other example's) is rejected: the teacher writes text only
    assert reason(f"{task.input_name}: {other.text}\nLabel: {other.answer}", parent, task) == "label_changed"
    assert reason(f"{task.input_name}: {parent.text}", parent, task) == "echo"
    assert reason(f"{task.input_name}: ", parent, task) == "empty"
    assert reason(f"{task.input_name}: {parent.answer.upper()}.", parent, task) == "label_only"
    assert reason(other.text, parent, task) == "no_input"   # strict: the reply must use the format
    assert reason(f"{task.input_name}: <the new {task.input_name.lower()}>", parent, task) == "template_echo"
    for hollow in (f"The new {task.input_name.lower()}", f"This {task.input_name}.", "[new sentence]", "Example"):
        assert reason(f"{task.input_name}: {hollow}", parent, task) == "template_echo", hollow
    assert reason(f"{task.input_name}: " + "very " * 400 + "long", parent, task) == "too_long"


def test_classification_label_formatting_is_tolerated():
    task, train = load_split("sst2", "train")
    parent = next(e for e in train if e.answer == "positive")
    for label_line in ("Label: positive", "Label: Positive.", "label:  POSITIVE", "**Label:** positive"):
        assert parse_output(f"Sentence: a warm , funny film\n{label_line}", parent, task).answer == "positive"
    assert parse_output('Sentence: "a warm , funny film"', parent, task).text == "a warm , funny film"


# ------------------------------------------------------------------------------ CaseHOLD
def casehold_output(ex, letter=None) -> str:
    opts = "\n".join(f"{'ABCDE'[i]}. {c}" for i, c in enumerate(ex.choices))
    return f"Excerpt: {ex.text}\n{opts}\nCorrect: {letter or 'ABCDE'[int(ex.answer)]}"


def test_casehold_real_examples():
    task, train = load_split("casehold", "train")
    parent = train[0]
    for other in train[1:20]:
        p = parse_output(casehold_output(other), parent, task)
        assert p.text == other.text.strip()
        assert p.choices == tuple(c.strip() for c in other.choices)
        assert p.answer == other.answer


def test_casehold_broken_outputs():
    task, train = load_split("casehold", "train")
    parent, other = train[0], train[1]
    good = casehold_output(other)
    assert reason(good.replace("<HOLDING>", "a holding"), parent, task) == "holding_placeholder"
    assert reason(good.replace("<HOLDING>", "<HOLDING> <HOLDING>"), parent, task) == "holding_placeholder"
    assert reason(good.replace("\nE. ", "\nX "), parent, task) == "bad_choices"              # four options
    dup = "\n".join(f"{l}. holding that the same thing" for l in "ABCDE")
    assert reason(f"Excerpt: {other.text}\n{dup}\nCorrect: A", parent, task) == "duplicate_choices"
    assert reason(good.rsplit("\nCorrect:", 1)[0], parent, task) == "bad_marked_answer"
    assert reason(casehold_output(other, letter="F"), parent, task) == "bad_marked_answer"
    assert reason("A. x\nB. y", parent, task) == "no_context"
    assert reason(casehold_output(parent), parent, task) == "echo"


# ------------------------------------------------------------------------------ QA (jsonl)
@pytest.fixture
def qa_task(tmp_path):
    rows = [{"text": "What is 2 + 2?", "label": "2 + 2 = 4. #### 4"}, {"text": "What is 3 * 3?", "label": "#### 9"}]
    for split in ("train", "test"):
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = build_task(TaskConfig(name="jsonl", kind="qa", train_file=str(tmp_path / "train.jsonl"),
                                 test_file=str(tmp_path / "test.jsonl")))
    return task, task.load("train")


def test_qa_outputs(qa_task):
    task, train = qa_task
    p = parse_output("Question: What is 5 + 1?\nAnswer: 5 + 1 = 6. #### 6", train[0], task)
    assert (p.text, p.answer) == ("What is 5 + 1?", "5 + 1 = 6. #### 6")
    assert reason("Question: What is 5 + 1?\nAnswer: six", train[0], task) == "bad_final_answer"
    assert reason("Question: What is 5 + 1?", train[0], task) == "no_answer"
    assert reason("Question: What is 2 + 2?\nAnswer: #### 4", train[0], task) == "echo"


# ------------------------------------------------------------------------------ rephrase
def test_rephrase_keeps_answers_and_checks_invariants():
    task, train = load_split("gsm8k", "train")
    parent = train[0]  # Natalia: 48 clips in April, half as many in May
    good = ("Question: In April Natalia sold clips to 48 friends; in May she sold half as many. "
            "How many clips did she sell in the two months?")
    p = parse_output(good, parent, task, mode="rephrase")
    assert p.answer == parent.answer and p.text.startswith("In April")
    assert reason(good.replace("48", "50"), parent, task, mode="rephrase") == "numbers_changed"
    assert reason(good + "\n#### 72", parent, task, mode="rephrase") == "answer_in_question"
    assert reason(f"Question: {parent.text}", parent, task, mode="rephrase") == "echo"
    # a bare paragraph (no header) is accepted as the rephrasing
    assert parse_output(good[len("Question: "):], parent, task, mode="rephrase").answer == parent.answer

    ctask, ctrain = load_split("casehold", "train")
    cp = ctrain[0]
    new = "Rephrased: " + cp.text.replace("<HOLDING>", "<HOLDING> (see below)")
    p = parse_output(f"Excerpt: {new}", cp, ctask, mode="rephrase")
    assert p.choices == cp.choices and p.answer == cp.answer
    assert reason(f"Excerpt: {cp.text.replace('<HOLDING>', '')} more words", cp, ctask, mode="rephrase") == "holding_placeholder"

    stask, strain = load_split("sst2", "train")
    p = parse_output("Sentence: a different way to say it", strain[0], stask, mode="rephrase")
    assert p.answer == strain[0].answer


# ------------------------------------------------------------------------------ templates
@pytest.mark.parametrize("name", ["gsm8k", "sst2", "trec", "snips", "casehold"])
def test_templates_render_for_every_task(name):
    task, train = load_split(name, "train")
    ex = train[3]
    for tname in (task.teacher_template, f"rephrase_{task.teacher_template}"):
        messages = load_template(tname).render(placeholders(task, ex))
        assert messages[0]["role"] == "system" and messages[-1]["role"] == "user"
        assert ex.text.strip() in messages[-1]["content"]
        assert "{" not in messages[-1]["content"].replace(ex.text, "").replace(ex.answer, "")  # no unfilled field


def test_gsm8k_prompt_follows_the_public_code():
    task, train = load_split("gsm8k", "train")
    ex = train[5]
    messages = load_template("gsm8k").render(placeholders(task, ex))
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]  # one worked example
    system, user = messages[0]["content"], messages[-1]["content"]
    assert "educational" in system and "Question: [QUESTION]" in system and "#### [ANSWER]" in system
    assert ex.text in user and ex.answer in user          # the seed question and its gold rationale
    assert "#### " in messages[2]["content"]              # the worked answer shows the output format


def test_classification_and_casehold_prompts_show_label_set_and_marked_answer():
    task, train = load_split("trec", "train")
    user = load_template("classification").render(placeholders(task, train[0]))[-1]["content"]
    assert ", ".join(task.labels) in user and f'Label: {train[0].answer}' in user
    ctask, ctrain = load_split("casehold", "train")
    ex = ctrain[0]
    user = load_template("casehold").render(placeholders(ctask, ex))[-1]["content"]
    assert f"Correct: {'ABCDE'[int(ex.answer)]}" in user and all(c in user for c in ex.choices)


def test_template_dir_overrides_and_errors(tmp_path):
    task, train = load_split("sst2", "train")
    (tmp_path / "classification.yaml").write_text("user: 'Write a {label} sentence like: {text}'\n")
    msgs = load_template("classification", str(tmp_path)).render(placeholders(task, train[0]))
    assert msgs == [{"role": "user", "content": f"Write a {train[0].answer} sentence like: {train[0].text}"}]
    assert load_template("gsm8k", str(tmp_path)).path.parent.name == "prompts"   # falls back to the built-in one
    (tmp_path / "gsm8k.yaml").write_text("user: 'Solve {question} for {student_answer}'\n")
    with pytest.raises(ConfigError, match="unknown placeholder"):
        load_template("gsm8k", str(tmp_path))
    (tmp_path / "qa.yaml").write_text("user: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_template("qa", str(tmp_path))
    with pytest.raises(ConfigError, match="no prompt template"):
        load_template("nope", str(tmp_path))


def test_truncated_replies_lose_their_last_line():
    task, train = load_split("gsm8k", "train")
    q = "Tom has 3 boxes of 4 pens each. How many pens does he have?"
    out = f"Question: {q}\nAnswer: 3 * 4 = 12\n#### 1"            # cut inside '#### 12'
    assert parse_output(out, train[0], task).answer.endswith("#### 1")  # looks fine...
    with pytest.raises(Rejected) as e:
        parse_output(out, train[0], task, truncated=True)
    assert e.value.reason == "truncated"
    stask, strain = load_split("sst2", "train")
    p = parse_output("Sentence: a complete line\nLabel: posi", strain[0], stask, truncated=True)
    assert p.text == "a complete line"
    with pytest.raises(Rejected, match="truncated"):
        parse_output("Sentence: a line cut in the mid", strain[0], stask, truncated=True)


def test_each_template_has_one_output_format_and_an_unknown_one_fails_clearly(qa_task):
    from llm2llm.teacher.output_format import CaseHoldFormat, ClassificationFormat, GSM8KFormat, QAFormat

    expected = {"sst2": ClassificationFormat, "trec": ClassificationFormat, "gsm8k": GSM8KFormat,
                "casehold": CaseHoldFormat}
    for name, cls in expected.items():
        task, train = load_split(name, "train")
        fmt = output_format(task)
        assert type(fmt) is cls and output_format(task) is fmt
        # what the oracle writes is what the parser reads back, under the same input name the prompt uses
        assert placeholders(task, train[0])["input_name"] == fmt.input_name(task)
    task, _ = qa_task
    assert type(output_format(task)) is QAFormat and output_format(task).input_name(task) == "Input"
    task.teacher_template = "poetry"
    with pytest.raises(ConfigError, match="no teacher output format for the template 'poetry'; known: "
                                          "classification, gsm8k, qa, casehold"):
        output_format(task)
