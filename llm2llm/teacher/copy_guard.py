"""Decoding rules for the in-process llama.cpp teacher: no copying of the quoted examples, and JSON
strings without raw control characters.

**No copying** (``teacher.no_copy_ngram``). Shown a seed and three style examples, the embedded
135M teacher often writes one of them back, and dedup throws such a copy away only after it has been
paid for (how often, with and without this guard: docs/benchmarks.md, "Copy guard").
``NoCopyProcessor`` forbids, while decoding, the token that would make the last ``n`` generated
tokens equal to ``n`` consecutive tokens of a text quoted in the prompt. A reply may share phrases
of up to ``n - 1`` tokens with those texts (names, "What is the"), never a whole sentence. It only
changes which replies are sampled: every validator (echo, dedup, label, decontamination) still runs
on what comes back.

**No placeholder input** (same setting). The other common failure is a reply whose new input is
just a label name (``{"sentence": "positive"}``) or names what it should be
(``{"sentence": "The new sentence"}``: the first such reply would be kept and every later one
rejected as a near-duplicate of it). ``PlaceholderGuard`` forbids closing the JSON string while
what it holds is one of these, so the model has to go on writing.

**JSON strings.** llama-cpp-python 0.3.36 turns a JSON schema into a grammar whose string
characters are ``[^"\\\\]``: a raw newline or other control character is allowed, and such a reply
is not valid JSON (docs/benchmarks.md, "Copy guard", counts these). ``json_grammar_text`` uses the
character class of llama.cpp's own converter, which excludes them.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any, Callable, Iterable

import numpy as np

from llm2llm.teacher.formats import is_label_name, is_self_description

#: the string-character rule of llama-cpp-python's converter, and the one JSON allows
_LOOSE_CHAR = 'char ::= [^"\\\\]'
_STRICT_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F]'
#: part of the cache key of every schema-constrained llama.cpp request (replies under llama-cpp-python's own,
#: looser grammar differ, so they never answer a request under this one)
GRAMMAR_VERSION = "json-strict-strings"
#: part of the cache key of every guarded request (a change to the guard's rules changes it, and so the keys)
GUARD_VERSION = "no-copy+placeholder"
_FORBIDDEN = -1e9  # finite: if the grammar allows only forbidden tokens, one of them is still sampled


def json_grammar_text(schema: dict[str, Any]) -> str:
    """The GBNF grammar for ``schema``, with JSON's rule for string characters."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(schema))
    if _LOOSE_CHAR not in gbnf:
        raise RuntimeError("llama-cpp-python's JSON grammar changed: no string-character rule to tighten")
    return gbnf.replace(_LOOSE_CHAR, _STRICT_CHAR)


class _ReplyProcessor:
    """A llama-cpp-python logits processor that looks at the reply only: its first call sees the
    prompt alone, so what comes after that length is what the model has generated."""

    prompt_len: int | None = None

    def generated(self, input_ids: np.ndarray) -> list[int]:
        if self.prompt_len is None:
            self.prompt_len = len(input_ids)
        return [int(t) for t in input_ids[self.prompt_len:]]


class NoCopyProcessor(_ReplyProcessor):
    """A llama-cpp-python logits processor: no ``n`` consecutive tokens of any source sequence.

    ``sources``: token sequences that must not be copied (each quoted text as written and
    lower-cased, each with and without a leading space, since BPE tokenises a text's first word
    differently mid-sentence). Only tokens after the prompt count.
    """

    def __init__(self, sources: Iterable[list[int]], n: int) -> None:
        if n < 2:
            raise ValueError(f"no_copy_ngram must be >= 2, got {n}")
        self.n = n
        self.next_tokens: dict[tuple[int, ...], set[int]] = defaultdict(set)
        for toks in sources:
            for i in range(len(toks) - n + 1):
                self.next_tokens[tuple(toks[i:i + n - 1])].add(toks[i + n - 1])

    def forbidden(self, generated: list[int]) -> set[int]:
        """The tokens that may not follow ``generated`` (tokens after the prompt)."""
        if len(generated) < self.n - 1:
            return set()
        return self.next_tokens.get(tuple(generated[len(generated) - self.n + 1:]), set())

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        banned = self.forbidden(self.generated(input_ids))
        if banned:
            scores[list(banned)] = _FORBIDDEN
        return scores


def no_copy_processor(tokenize: Callable[[bytes], list[int]], texts: Iterable[str], n: int) -> NoCopyProcessor:
    """A ``NoCopyProcessor`` for ``texts`` with llama.cpp's ``tokenize`` (bytes -> ids, no BOS)."""
    sources = []
    for text in texts:
        words = " ".join(text.split())
        for variant in {words, words.lower()}:
            sources += [tokenize(variant.encode()), tokenize((" " + variant).encode())]
    return NoCopyProcessor(sources, n)


#: the start of a one-field JSON object up to the open string value: ``{ "sentence": "...``
_OPEN_STRING_VALUE = re.compile(r'\s*\{\s*"[^"]*"\s*:\s*"([^"]*)$', re.S)


def quote_tokens(detokenize: Callable[[list[int]], bytes], n_vocab: int) -> np.ndarray:
    """The ids of every token whose text contains a double quote (the tokens that can close a string)."""
    return np.array([i for i in range(n_vocab) if b'"' in detokenize([i])], dtype=np.intc)


class PlaceholderGuard(_ReplyProcessor):
    """A llama-cpp-python logits processor for one-field JSON replies: the string may not be closed
    while its content is a label name or names what it should be ("The new sentence"), compared as
    the ``label_only`` and ``template_echo`` validators compare."""

    def __init__(self, labels: Iterable[str], detokenize: Callable[[list[int]], bytes], quotes: np.ndarray) -> None:
        self.labels = tuple(labels)
        self.detokenize = detokenize
        self.quotes = quotes

    def blocks(self, generated_text: str) -> bool:
        """Whether the string may not be closed after ``generated_text`` (the reply so far)."""
        m = _OPEN_STRING_VALUE.match(generated_text)
        return bool(m) and (is_label_name(m.group(1), self.labels) or is_self_description(m.group(1)))

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        text = self.detokenize(self.generated(input_ids)).decode("utf-8", "ignore")
        if self.blocks(text):
            scores[self.quotes] = _FORBIDDEN
        return scores
