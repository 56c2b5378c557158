"""A reference judge of generated examples: is a kept example what it claims to be?

The teacher stage's validators check form (parsable, the parent's label, not a copy); they cannot
tell whether "The positive" is a positive movie review. The judge is an independent check, recorded
beside kept / generated for every teacher stage and every augmented D_0:

- labelled tasks (SST-2, TREC, SNIPS, any JSONL task with labels): a TF-IDF (word 1-2 grams,
  sublinear tf) + logistic-regression classifier trained on the task's whole train split accepts an
  example when it predicts the example's claimed label. Its accuracy on the task's test split is
  recorded with it, so an acceptance rate can be read against how often the judge itself is right.
  An example whose text is a train example (the oracle teacher's, random extra data) is judged by
  a model fitted without it (cross-fitting: the train texts fall into 5 folds by a hash of the text;
  fold k's model is fitted on the other four, on first need), so a real train example is accepted
  about as often as the judge is right out of sample, not ~100 % because it was fitted on it.
- GSM8K: the answer is recomputed from the rationale's arithmetic: every ``<<a*b=c>>`` annotation
  (or, without annotations, every written ``a * b = c``) must hold, and the final ``#### N`` must be
  the result of the last one. A rationale with no arithmetic is not accepted.
- CaseHOLD (multiple choice over holdings): no judge; nothing is recorded.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Iterable, Protocol

from llm2llm.example import Example
from llm2llm.tasks.base import Task
from llm2llm.tasks.gsm8k import canonical_number
from llm2llm.teacher.formats import check_calculations, safe_arith


class Judge(Protocol):
    name: str

    def accepts(self, examples: list[Example]) -> list[bool]: ...

    def describe(self) -> dict[str, Any]: ...


FOLDS = 5


def text_fold(text: str) -> int:
    """The cross-fitting fold of a train text: stable across runs and machines (no RNG)."""
    return int(hashlib.sha1(text.encode()).hexdigest(), 16) % FOLDS


def _fit(examples: list[Example]) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from threadpoolctl import threadpool_limits

    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(max_iter=2000))
    with threadpool_limits(1):  # lbfgs's BLAS threads only contend on a shared CPU (3x slower here)
        model.fit([e.text for e in examples], [e.answer for e in examples])
    return model


class LabelJudge:
    """TF-IDF + logistic regression on the train split, cross-fitted for train texts (see the module
    docstring)."""

    name = "tfidf-logreg"

    def __init__(self, train: list[Example], test: list[Example]) -> None:
        self.train = train
        self.model = _fit(train)
        self.fold_of = {e.text: text_fold(e.text) for e in train}
        self._fold_models: dict[int, Any] = {}
        # the whole-train model on the test split, as a classifier is scored (no fold models fitted)
        self.test_accuracy = (sum(str(p) == e.answer for p, e in zip(self.model.predict([e.text for e in test]), test))
                              / len(test)) if test else None

    def model_for(self, fold: int | None) -> Any:
        """The whole-train model (``fold`` None: a text the judge was not fitted on), or fold's."""
        if fold is None:
            return self.model
        if fold not in self._fold_models:
            self._fold_models[fold] = _fit([e for e in self.train if self.fold_of[e.text] != fold])
        return self._fold_models[fold]

    def accepts(self, examples: list[Example]) -> list[bool]:
        by_fold: dict[int | None, list[int]] = {}
        for i, e in enumerate(examples):
            by_fold.setdefault(self.fold_of.get(e.text), []).append(i)
        verdicts = [False] * len(examples)
        for fold, idx in by_fold.items():
            predicted = self.model_for(fold).predict([examples[i].text for i in idx])
            for i, p in zip(idx, predicted):
                verdicts[i] = str(p) == examples[i].answer
        return verdicts

    def describe(self) -> dict[str, Any]:
        acc = None if self.test_accuracy is None else round(self.test_accuracy, 4)
        return {"judge": self.name, "judge_test_accuracy": acc}


#: "12 * 3 = 36", "$4.50 x 2 = $9": an arithmetic expression (at least one operator) equal to a number
_EQUATION = re.compile(r"(\(?\$?\d[\d,]*(?:\.\d+)?(?:\s*[-+*/x×÷]\s*\(?\$?\d[\d,]*(?:\.\d+)?\)?)+)\s*=\s*\$?\s*"
                       r"(-?\d[\d,]*(?:\.\d+)?)")
_ANNOTATION = re.compile(r"<<([^<>=]+)=([^<>]+)>>")


def rationale_holds(answer: str) -> bool:
    """Whether a GSM8K answer's arithmetic recomputes its final number (see the module docstring)."""
    if answer.count("####") != 1:
        return False
    rationale, final = answer.split("####")
    final_number = canonical_number(final)
    annotated = _ANNOTATION.findall(rationale)
    if annotated:
        if check_calculations(rationale):
            return False
        last = annotated[-1][1]
    else:
        written = _EQUATION.findall(rationale)
        if not written:
            return False
        for expr, result in written:
            try:
                if abs(safe_arith(expr) - float(result.replace(",", ""))) > 1e-6 * max(1.0, abs(float(result.replace(",", "")))) + 0.005:
                    return False
            except ValueError:
                return False
        last = written[-1][1]
    return final_number is not None and canonical_number(last) == final_number


class ArithmeticJudge:
    name = "arithmetic"

    def accepts(self, examples: list[Example]) -> list[bool]:
        return [rationale_holds(e.answer) for e in examples]

    def describe(self) -> dict[str, Any]:
        return {"judge": self.name}


#: Label judges fitted in this process, by what they were fitted on: the jobs of a multirun share
#: their task's judge instead of each re-fitting it (seconds on SST-2's 67k sentences).
_FITTED: dict[str, LabelJudge] = {}


def _fingerprint(*splits: list[Example]) -> str:
    h = hashlib.sha1()
    for split in splits:
        for e in split:
            h.update(f"{e.text}\x1f{e.answer}\x1e".encode())
        h.update(b"\x1d")
    return h.hexdigest()


def build_judge(task: Task, train: list[Example], test: list[Example]) -> Judge | None:
    if task.teacher_template == "gsm8k":
        return ArithmeticJudge()
    if task.labels is not None and task.teacher_template == "classification":
        key = _fingerprint(train, test)
        if key not in _FITTED:
            if len(_FITTED) >= 4:  # a sweep over tasks: keep memory bounded
                _FITTED.pop(next(iter(_FITTED)))
            _FITTED[key] = LabelJudge(train, test)
        return _FITTED[key]
    return None


class LazyJudge:
    """Builds the task's judge on first use (fitting it costs seconds; runs without generated
    examples never pay it) and summarises its verdicts as run statistics."""

    def __init__(self, task: Task, train: list[Example], test: list[Example]) -> None:
        self.task, self.train, self.test = task, train, test
        self._judge: Judge | None = None
        self._built = False

    def stats(self, examples: Iterable[Example]) -> dict[str, Any] | None:
        """``{"judge", "checked", "accepted", ...}`` for the generated examples, or None without a judge."""
        generated = [e for e in examples if e.origin != "seed"]
        if not self._built:
            self._judge, self._built = build_judge(self.task, self.train, self.test), True
        if self._judge is None:
            return None
        verdicts = self._judge.accepts(generated)
        return {**self._judge.describe(), "checked": len(verdicts), "accepted": sum(verdicts)}
