"""teacher=oracle (the positive control) on the real SST-2, TREC and GSM8K splits, through the real
Teacher stage: nearest same-label train examples, never a seed, a test example or a duplicate,
deterministic, cached like any backend."""

from __future__ import annotations

from pathlib import Path

from teacher_fixtures import load_split

from llm2llm.config import OracleTeacherConfig
from llm2llm.sampling import seed_set
from llm2llm.teacher import Teacher
from llm2llm.teacher.output_format import output_format, parse_output


def oracle_cfg(tmp_path: Path) -> OracleTeacherConfig:
    return OracleTeacherConfig(name="oracle", cache_path=str(tmp_path / "cache"))


def norm(text: str) -> str:
    return " ".join(text.lower().split())


def run_oracle(tmp_path: Path, task_name: str, seed: int, k: int = 1):
    task, train = load_split(task_name, "train")
    _, test = load_split(task_name, "test")
    seeds = seed_set(train, 24, seed, True)
    wrong = seeds[::2]
    with Teacher(oracle_cfg(tmp_path), task, str(tmp_path), run_seed=seed) as teacher:
        result = teacher.augment(wrong, k=k, iteration=1, existing=seeds, forbidden=test[:200])
    return task, train, test[:200], seeds, wrong, result


def test_oracle_returns_nearest_same_label_train_examples_never_seed_test_or_duplicate(tmp_path):
    task, train, test, seeds, wrong, result = run_oracle(tmp_path, "trec", seed=3, k=2)
    assert len(result.examples) == 2 * len(wrong)  # a perfect teacher: every request kept
    train_texts = {norm(e.text): e for e in train}
    seed_texts = {norm(e.text) for e in seeds}
    test_texts = {norm(e.text) for e in test}
    by_parent = {e.id: e for e in wrong}
    for e in result.examples:
        source = train_texts[norm(e.text)]  # a real train example, verbatim
        assert norm(e.text) not in seed_texts and norm(e.text) not in test_texts
        assert e.answer == by_parent[e.parent_id].answer == source.answer  # the parent's label
        assert e.origin == "teacher" and e.teacher_model == "tfidf-nearest-train"
    assert len({norm(e.text) for e in result.examples}) == len(result.examples)
    stats = result.stats
    assert stats["generated"] == stats["kept"] == len(result.examples) and stats["cost_usd"] == 0.0
    assert stats["prompt_tokens"] == stats["completion_tokens"] == 0


def test_oracle_is_deterministic_and_cached_like_any_backend(tmp_path):
    *_, first = run_oracle(tmp_path / "a", "sst2", seed=5)
    assert first.stats["cache_misses"] == first.stats["requests"] > 0
    *_, again = run_oracle(tmp_path / "a", "sst2", seed=5)  # same cache: nothing asked again
    assert again.stats["cache_hits"] == again.stats["requests"] and again.stats["cache_misses"] == 0
    *_, fresh = run_oracle(tmp_path / "b", "sst2", seed=5)  # empty cache: the same answers
    assert [(e.id, e.text) for e in first.examples] == [(e.id, e.text) for e in again.examples] \
        == [(e.id, e.text) for e in fresh.examples]


def test_oracle_takes_the_most_similar_example(tmp_path):
    from llm2llm.teacher.oracle import OracleBackend

    task, train = load_split("sst2", "train")
    backend = OracleBackend(oracle_cfg(tmp_path), task)
    parent = train[0]
    ranked = backend.neighbours(parent)
    assert parent not in ranked and all(e.answer == parent.answer for e in ranked[:50])
    # its nearest neighbour shares more words with it than a random same-label example does
    words = set(parent.text.lower().split())
    overlap = lambda e: len(words & set(e.text.lower().split()))  # noqa: E731
    assert overlap(ranked[0]) > sum(overlap(e) for e in ranked[-50:]) / 50
    backend.exclude([ranked[0]])
    assert backend.neighbours(parent)[0] == ranked[1]


def test_gsm8k_oracle_returns_the_problem_with_its_reference_solution(tmp_path):
    task, train, test, seeds, wrong, result = run_oracle(tmp_path, "gsm8k", seed=0)
    source = {norm(e.text): e for e in train}
    assert len(result.examples) == len(wrong)
    for e in result.examples:
        ref = source[norm(e.text)]
        assert e.answer.split("####")[1].strip() == ref.answer.split("####")[1].strip()
        assert e.answer.split("####")[0].strip() == ref.answer.split("####")[0].strip()


def test_plain_text_parses_back_to_the_same_example():
    for name in ("sst2", "gsm8k", "casehold", "snips"):
        task, train = load_split(name, "train")
        for ex in train[:20]:  # the parent: another example (of the same label where there are labels)
            parent = max((e for e in train[-300:] if e.id != ex.id and (task.labels is None or e.answer == ex.answer)),
                         key=lambda e: len(e.text))
            parsed = parse_output(output_format(task).plain_text(task, ex), parent, task)
            assert norm(parsed.text) == norm(ex.text) and parsed.answer.strip() == ex.answer.strip(), name
