"""``teacher=oracle``: a positive control that answers as if a perfect teacher had written the examples.

For a seed example, the oracle's reply is the most similar example *of the same label* in the task's
train split (GSM8K and CaseHOLD: the most similar problem, with its reference solution or holding),
written in the template's reply format, so it goes through the same teacher stage as any model:
the same prompts, cache, validators, re-asks and per-iteration statistics (no tokens, no cost).

Which example: sample index ``s`` of a request takes the ``s``-th most similar eligible train example
(re-asks after a rejection move down the list). Eligible: not the seed itself, not an example of the
run's training set or of its test set (by exact text, case and spacing aside; the validators'
near-duplicate checks then apply as for any teacher). Similarity: cosine between TF-IDF vectors of
word unigrams and bigrams (sublinear tf) fitted on the whole train split: cheap, deterministic, and
blind to the label, which the candidate set already fixes.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable

from llm2llm.example import Example
from llm2llm.tasks.base import Task, normalise_label_text
from llm2llm.teacher.backends import Backend, GenRequest, Generation, OnDone, Result, TeacherError
from llm2llm.teacher.output_format import output_format


_INDEXES: dict[tuple[str, str], tuple[list[Example], list[str], Any, Any]] = {}


def _index(task: Task) -> tuple[list[Example], list[str], Any, Any]:
    """The train split, its normalised texts, its fitted vectorizer and its TF-IDF matrix (once per task
    and process)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    key = (task.name, str(getattr(task, "local_dir", "")))
    if key not in _INDEXES:
        train = task.load("train")
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        _INDEXES[key] = (train, [_norm(e.text) for e in train], vectorizer,
                         vectorizer.fit_transform([e.text for e in train]))
    return _INDEXES[key]


def _norm(text: str) -> str:
    return " ".join(normalise_label_text(text).split())


class OracleBackend(Backend):
    """See the module docstring. The train split is loaded and vectorised on first use."""

    def __init__(self, cfg: Any, task: Task) -> None:
        self.cfg, self.task = cfg, task
        self.format = output_format(task)
        self.train: list[Example] | None = None
        self.excluded: set[str] = set()
        self._vectors: Any = None

    def check_ready(self) -> None:
        self._load()

    def _load(self) -> None:
        if self.train is None:
            self.train, self.norms, self.vectorizer, self._vectors = _index(self.task)

    def exclude(self, examples: Iterable[Example]) -> None:
        self.excluded = {_norm(e.text) for e in examples}

    def key_fields(self, schema: dict[str, Any] | None) -> dict[str, Any]:
        # The answer depends on what is excluded: a cached reply is reused only for the same data.
        digest = hashlib.sha256("\n".join(sorted(self.excluded)).encode()).hexdigest()[:16]
        return {"oracle_excluded": digest}

    def neighbours(self, parent: Example, limit: int | None = None) -> list[Example]:
        """Eligible train examples for ``parent``, most similar first (ties: in train-split order); the
        first ``limit`` of them if given."""
        self._load()
        assert self.train is not None
        import numpy as np

        scores = (self._vectors @ self.vectorizer.transform([parent.text]).T).toarray().ravel()
        same_label = self.task.labels is not None
        out = []
        for i in np.argsort(-scores, kind="stable"):
            e = self.train[i]
            if e.id == parent.id or self.norms[i] in self.excluded or (same_label and e.answer != parent.answer):
                continue
            out.append(e)
            if limit is not None and len(out) >= limit:
                break
        return out

    def generate(self, requests: list[GenRequest], on_done: OnDone) -> list[Result]:
        results: list[Result] = []
        ranked: dict[str, list[Example]] = {}
        needed: dict[str, int] = {}
        for req in requests:
            if req.parent is not None:
                needed[req.parent.id] = max(needed.get(req.parent.id, 0), req.sample + 1)
        for req in requests:
            if req.parent is None:
                results.append(TeacherError("teacher=oracle answers requests for a seed example only"))
                continue
            if req.parent.id not in ranked:
                ranked[req.parent.id] = self.neighbours(req.parent, needed[req.parent.id])
            found = ranked[req.parent.id]
            if req.sample >= len(found):
                results.append(TeacherError(f"teacher=oracle: no eligible train example left for {req.parent.id}"))
                continue
            gen = Generation(text=self.format.plain_text(self.task, found[req.sample]), finish_reason="stop",
                             prompt_tokens=0, completion_tokens=0)
            on_done(req, gen)
            results.append(gen)
        return results
