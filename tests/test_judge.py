"""The reference judge on hand-written examples: a sentence of the wrong sentiment is rejected, a
question of another TREC type is rejected, GSM8K rationales whose arithmetic does not recompute the
final answer are rejected. The classifiers are trained on the real train splits."""

from __future__ import annotations

import pytest
from teacher_fixtures import load_split

from llm2llm.example import Example
from llm2llm.judge import LazyJudge, build_judge, rationale_holds


def ex(text: str, answer: str, origin: str = "teacher") -> Example:
    return Example(id=f"x{abs(hash(text)) % 10**8}", text=text, answer=answer, origin=origin)


@pytest.fixture(scope="module")
def sst2_judge():
    task, train = load_split("sst2", "train")
    _, test = load_split("sst2", "test")
    return build_judge(task, train, test), task


def test_sentiment_judge_rejects_the_wrong_sentiment(sst2_judge):
    judge, task = sst2_judge
    pos, neg = task.labels[1], task.labels[0]
    good = [ex("a warm , funny and beautifully acted film that i loved", pos),
            ex("a dull , lifeless mess with nothing to say", neg)]
    swapped = [ex(e.text, neg if e.answer == pos else pos) for e in good]
    assert judge.accepts(good) == [True, True]
    assert judge.accepts(swapped) == [False, False]
    assert judge.describe()["judge"] == "tfidf-logreg" and judge.describe()["judge_test_accuracy"] > 0.7


def test_trec_judge_rejects_a_question_of_another_type():
    task, train = load_split("trec", "train")
    judge = build_judge(task, train, [])
    labels = {e.answer for e in train}
    where = next(l for l in labels if "LOC" in l.upper() or "location" in l.lower())
    who = next(l for l in labels if "HUM" in l.upper() or "human" in l.lower())
    q = ex("What city is the capital of Peru ?", where)
    assert judge.accepts([q]) == [True]
    assert judge.accepts([ex(q.text, who)]) == [False]


def test_a_train_example_is_judged_by_a_model_that_never_saw_it():
    """Real TREC train questions with their gold labels (what the oracle teacher and random extra data
    add): the whole-train model accepts nearly all of them because it was fitted on them; the judge
    uses the model of the fold that held each one out, so it accepts them about as often as it is
    right on the test set. A text outside train is judged by the whole-train model, fitting no fold."""
    task, train = load_split("trec", "train")
    _, test = load_split("trec", "test")
    judge = build_judge(task, train, test)
    fresh = [ex("Which river flows through the capital of Hungary ?", next(l for l in task.labels if "LOC" in l.upper()))]
    judge.accepts(fresh)
    assert judge._fold_models == {}
    sample = train[::18]  # 303 questions, spread over the split
    in_sample = sum(str(p) == e.answer for p, e in zip(judge.model.predict([e.text for e in sample]), sample)) / len(sample)
    cross_fitted = sum(judge.accepts(sample)) / len(sample)
    assert in_sample > 0.95
    assert abs(cross_fitted - judge.test_accuracy) < 0.1 and cross_fitted < in_sample - 0.1, (cross_fitted, judge.test_accuracy)


def test_the_jobs_of_a_sweep_share_one_fitted_judge_per_training_data():
    task, train = load_split("trec", "train")
    _, again = load_split("trec", "train")  # another job of the same sweep reads the split again
    first = build_judge(task, train, [])
    assert again is not train and build_judge(task, again, []) is first
    relabelled = [*train[:-1], ex(train[-1].text, next(l for l in task.labels if l != train[-1].answer))]
    other = build_judge(task, relabelled, [])
    assert other is not first and build_judge(task, train[:-1], []) is not first


def test_lazy_judge_counts_only_generated_examples():
    task, train = load_split("trec", "train")
    lazy = LazyJudge(task, train, [])
    seeds = [ex(e.text, e.answer, origin="seed") for e in train[:3]]
    stats = lazy.stats([*seeds, ex("Who wrote Hamlet ?", next(l for l in task.labels if "HUM" in l.upper()))])
    assert stats["checked"] == 1 and stats["accepted"] == 1 and stats["judge"] == "tfidf-logreg"


def test_gsm8k_rationales():
    assert rationale_holds("She has 3*4=<<3*4=12>>12 apples, and 12+5=<<12+5=17>>17.\n#### 17")
    assert not rationale_holds("She has 3*4=<<3*4=13>>13 apples, and 13+5=<<13+5=18>>18.\n#### 18")  # wrong step
    assert not rationale_holds("3*4=<<3*4=12>>12 apples.\n#### 15")  # final is not the last result
    assert rationale_holds("He pays 2 x $4.50 = $9.00 and 9 + 1 = 10 in total.\n#### 10")  # written equations
    assert not rationale_holds("He pays 2 x 4 = 9 in total.\n#### 9")
    assert not rationale_holds("replies\n#### 5")  # no arithmetic at all
    assert not rationale_holds("no marker 5")
    task, train = load_split("gsm8k", "train")
    judge = build_judge(task, train, [])
    verdicts = judge.accepts(train[:200])  # the reference solutions themselves
    assert sum(verdicts) / len(verdicts) > 0.9


def test_no_judge_for_casehold():
    task, train = load_split("casehold", "train")
    assert build_judge(task, train[:50], []) is None
    assert LazyJudge(task, train[:50], []).stats([]) is None
