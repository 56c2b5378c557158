"""Tasks on the real dataset copies: split sizes, label sets, gold answers parse back to themselves."""

from __future__ import annotations

import pytest

from llm2llm.config import TaskConfig
from llm2llm.tasks import build_task
from llm2llm.tasks.gsm8k import canonical_number, final_answer

SIZES = {  # task: (train, test, number of labels or None)
    "gsm8k": (7473, 1319, None),
    "sst2": (67349, 872, 2),
    "trec": (5452, 500, 6),
    "snips": (13084, 700, 7),
    "casehold": (500, 500, 5),
}


@pytest.fixture(scope="module")
def splits(data_dir):
    out = {}
    for name in SIZES:
        task = build_task(TaskConfig(name=name), str(data_dir))
        out[name] = (task, task.load("train"), task.load("test"))
    return out


@pytest.mark.parametrize("name", sorted(SIZES))
def test_split_sizes_and_labels(splits, name):
    task, train, test = splits[name]
    n_train, n_test, n_labels = SIZES[name]
    assert (len(train), len(test)) == (n_train, n_test)
    if n_labels is None:
        assert task.labels is None
    else:
        assert len(task.labels) == n_labels
        assert {e.answer for e in train + test} == set(task.labels)
    assert len({e.id for e in train + test}) == n_train + n_test
    assert all(e.origin == "seed" and e.text.strip() for e in train + test)


@pytest.mark.parametrize("name", sorted(SIZES))
def test_every_gold_answer_parses_back_to_itself(splits, name):
    task, train, test = splits[name]
    for ex in train + test:
        target = task.target(ex)
        assert task.parse(target) == task.gold(ex), (ex.id, target)
        assert task.is_correct(task.parse(target), ex)


def test_label_distributions_match_the_dataset_cards(splits):
    _, _, trec_test = splits["trec"]
    counts = {l: sum(e.answer == l for e in trec_test) for l in {e.answer for e in trec_test}}
    assert counts == {"description": 138, "number": 113, "entity": 94, "location": 81, "human": 65, "abbreviation": 9}
    _, sst_train, _ = splits["sst2"]
    assert sum(e.answer == "positive" for e in sst_train) == 37569
    _, _, snips_test = splits["snips"]
    assert sum(e.answer == "AddToPlaylist" for e in snips_test) == 124


def test_trec_stray_byte_is_read_as_a_space(splits):
    _, train, _ = splits["trec"]
    assert any("sister city" in e.text for e in train)


def test_snips_trailing_spaces_are_stripped(splits):
    _, train, _ = splits["snips"]
    assert all(e.text == e.text.strip() for e in train)


@pytest.mark.parametrize("text,expected", [
    ("so the total is\n#### 1,000", "1000"),
    ("#### -3", "-3"),
    ("#### 3.50 dollars", "3.5"),
    ("#### $7.", "7"),
    ("#### 2.0", "2"),
    ("#### +12 apples and more text 99", "12"),
    ("first #### 5 then #### 6", "6"),
    ("no marker 42", None),
    ("#### none", None),
    ("#### " + "9" * 40, "9" * 40),              # beyond Decimal's 28-digit context: exact, no error
    ("#### 1" + "0" * 30 + ".0", "1" + "0" * 30),
])
def test_gsm8k_final_answer(text, expected):
    assert final_answer(text) == expected


def test_gsm8k_canonical_number_compares_values():
    assert canonical_number("1,234.50") == canonical_number("1234.5") == "1234.5"


@pytest.mark.parametrize("output,expected", [
    ("positive", "positive"),
    ("  Positive.\n", "positive"),
    ("NEGATIVE", "negative"),
    ("Negative sentiment", "negative"),
    ("The sentiment is positive", "positive"),
    ("positive or negative", None),
    ("", None),
    ("neutral", None),
])
def test_classification_parse(splits, output, expected):
    task = splits["sst2"][0]
    assert task.parse(output) == expected


def test_snips_and_trec_parse_robust_to_case_and_spacing(splits):
    assert splits["snips"][0].parse(" addtoplaylist \n") == "AddToPlaylist"
    assert splits["trec"][0].parse("Location") == "location"


@pytest.mark.parametrize("output,expected", [("C", "2"), ("(b) because", "1"), (" e.", "4"), ("3", "3"), ("F", None), ("none", None)])
def test_casehold_parse(splits, output, expected):
    assert splits["casehold"][0].parse(output) == expected


def test_prompts_show_the_label_set_and_the_input(splits):
    task, train, _ = splits["trec"]
    prompt = task.prompt(train[0])
    assert train[0].text in prompt and all(l in prompt for l in task.labels)
    task, train, _ = splits["casehold"]
    prompt = task.prompt(train[0])
    assert all(c in prompt for c in train[0].choices)


def test_label_and_text_files_with_a_byte_order_mark(tmp_path):
    """A label file saved by a Windows editor starts with a UTF-8 BOM: it is not part of the first label."""
    for split in ("train", "test"):
        folder = tmp_path / "snips" / split
        folder.mkdir(parents=True)
        (folder / "seq.in").write_bytes(b"\xef\xbb\xbfplay some jazz\r\nwill it rain\r\n")
        (folder / "label").write_bytes(b"\xef\xbb\xbfPlayMusic\r\nGetWeather\r\n")
    examples = build_task(TaskConfig(name="snips"), str(tmp_path)).load("train")
    assert [(e.text, e.answer) for e in examples] == [("play some jazz", "PlayMusic"), ("will it rain", "GetWeather")]
