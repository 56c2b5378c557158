"""ROUGE-L near-duplicate filtering and test-set decontamination for teacher output.

As in the public LLM2LLM code, a new text is a duplicate when its ROUGE-L F-measure against any
known text reaches the threshold (0.95), using rouge-score's tokenizer and LCS. Scoring every
candidate against every known text is O(N) LCS tables per candidate, too slow against a test
split of ~1,000 examples, so we first rule texts out with two exact upper bounds on ROUGE-L F
(F = 2 * LCS / (len_a + len_b)):
  - LCS <= min(len_a, len_b)                       (the length bound), and
  - LCS <= size of the token-multiset intersection  (the bag-of-words bound);
only the few texts that pass both get an LCS. Exact matches (same token sequence, i.e. equal up to
case and punctuation) are a set lookup.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any, Iterable

from llm2llm.tasks.base import normalise_label_text

@lru_cache(maxsize=None)
def _rouge() -> tuple[Any, Any]:
    """rouge-score's scorer module and default tokenizer, imported on first use (rouge-score imports
    nltk, seconds that a process which never deduplicates should not pay)."""
    from rouge_score import rouge_scorer, tokenizers

    return rouge_scorer, tokenizers.DefaultTokenizer(use_stemmer=False)


def tokenize(text: str) -> list[str]:
    """rouge-score's default tokenisation (lower-case, alphanumeric runs)."""
    return _rouge()[1].tokenize(text)


def rouge_l(a: str, b: str) -> float:
    """ROUGE-L F-measure of two texts, as rouge-score computes it."""
    return _rouge()[0]._score_lcs(tokenize(a), tokenize(b)).fmeasure  # the public code's own call


class NearDuplicateIndex:
    """Texts seen so far; ``match(text)`` says whether a new text copies one of them.

    Adding a text only tokenises it (token bags are built lazily, for the few texts that pass
    the length bound), so indexing a whole test split takes milliseconds.
    """

    def __init__(self, texts: Iterable[str] = (), threshold: float = 0.95) -> None:
        self.threshold = threshold
        self._exact: set[str] = set()
        self._docs: list[list[str]] = []
        self._bags: dict[int, Counter[str]] = {}
        for t in texts:
            self.add(t)

    def __len__(self) -> int:
        return len(self._docs)

    def copy(self) -> "NearDuplicateIndex":
        """An index of the same texts that can grow without changing this one."""
        other = NearDuplicateIndex(threshold=self.threshold)
        other._exact, other._docs, other._bags = set(self._exact), list(self._docs), dict(self._bags)
        return other

    def add(self, text: str) -> None:
        toks = tokenize(text)
        self._exact.add(" ".join(toks) if toks else normalise_label_text(text))
        self._docs.append(toks)

    def _bag(self, idx: int) -> Counter[str]:
        bag = self._bags.get(idx)
        if bag is None:
            bag = self._bags[idx] = Counter(self._docs[idx])
        return bag

    def best(self, text: str) -> float:
        """The highest ROUGE-L F against any indexed text that could reach the threshold (else 0)."""
        toks = tokenize(text)
        if (" ".join(toks) if toks else normalise_label_text(text)) in self._exact:
            return 1.0
        if not toks:
            return 0.0
        bag = Counter(toks)
        n = len(toks)
        best = 0.0
        for idx, other in enumerate(self._docs):
            m = len(other)
            if not m or 2 * min(n, m) / (n + m) < self.threshold:
                continue
            overlap = sum((bag & self._bag(idx)).values())
            if 2 * overlap / (n + m) < self.threshold:
                continue
            best = max(best, _rouge()[0]._score_lcs(other, toks).fmeasure)
        return best

    def match(self, text: str) -> bool:
        """True when ``text`` is a near-copy: an exact normalised match or ROUGE-L F >= threshold."""
        return self.best(text) >= self.threshold
