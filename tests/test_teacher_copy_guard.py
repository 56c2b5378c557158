"""Decoding rules of the in-process llama.cpp teacher (llm2llm/teacher/copy_guard.py): the no-copy
logits processor and JSON strings without raw control characters. The llama.cpp tests run the real
embedded SmolLM2-135M GGUF on real seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llm2llm.teacher import Teacher
from llm2llm.tasks.base import normalise_label_text
from llm2llm.teacher.copy_guard import (NoCopyProcessor, PlaceholderGuard, json_grammar_text, no_copy_processor,
                                        quote_tokens)
from llm2llm.teacher.dedup import rouge_l
from llm2llm.teacher.prompts import style_examples
from cli_helpers import CACHE_DIR
from teacher_fixtures import load_split, teacher_cfg


def test_no_copy_forbids_exactly_the_token_that_completes_a_copied_ngram():
    proc = NoCopyProcessor([[1, 2, 3, 4, 5], [7, 2, 3, 9]], n=3)
    assert proc.forbidden([2, 3]) == {4, 9}        # both sources continue "2 3"
    assert proc.forbidden([8, 1, 2]) == {3}
    assert proc.forbidden([3]) == set()             # shorter than n - 1: nothing to complete
    assert proc.forbidden([3, 2]) == set()          # not a run of any source
    # through the llama-cpp-python interface: the first call is the prompt, whose tokens never count
    prompt = np.array([5, 1, 2], dtype=np.intc)
    scores = np.zeros(12, dtype=np.single)
    assert not proc(prompt, scores.copy()).any()     # the prompt ends in "1 2", but nothing was generated yet
    out = proc(np.array([5, 1, 2, 7, 2, 3], dtype=np.intc), scores.copy())
    assert set(np.flatnonzero(out)) == {4, 9} and (out[[4, 9]] < -1e8).all()
    with pytest.raises(ValueError):
        NoCopyProcessor([[1, 2]], n=1)


def test_placeholder_guard_keeps_the_string_open_only_while_it_holds_a_label_name_or_a_self_description():
    vocab = {0: b'{ "sentence": "', 1: b"Positive", 2: b".", 3: b'"', 4: b" film", 5: b'" }'}
    detok = lambda ids: b"".join(vocab[i] for i in ids)  # noqa: E731  (a six-token vocabulary)
    quotes = quote_tokens(detok, len(vocab))
    assert quotes.tolist() == [0, 3, 5]
    guard = PlaceholderGuard(["positive", "negative"], detok, quotes)
    assert guard.blocks('{ "sentence": "Positive.') and guard.blocks('{"sentence":"  negative')
    assert not guard.blocks('{ "sentence": "Positive film') and not guard.blocks('{ "sentence": "')
    assert not guard.blocks('{ "sentence": "positive" }')  # already closed: nothing left to forbid
    # the replies the embedded teacher wrote in `make run`: "The new sentence", "This sentence"
    for hollow in ("The new sentence", "This sentence", "[new sentence]", "your rephrased question."):
        assert guard.blocks('{"question": "' + hollow), hollow
    for real in ("The new sentence is bland", "a sentence of pure joy", "What is a sentence ?"):
        assert not guard.blocks('{"sentence": "' + real), real
    scores = np.zeros(len(vocab), dtype=np.single)
    guard(np.array([9, 9], dtype=np.intc), scores.copy())  # the prompt
    out = guard(np.array([9, 9, 0, 1, 2], dtype=np.intc), scores.copy())
    assert set(np.flatnonzero(out)) == {0, 3, 5}
    assert not guard(np.array([9, 9, 0, 1, 4], dtype=np.intc), scores.copy()).any()


def _llama():
    pytest.importorskip("llama_cpp")
    from llama_cpp import Llama

    from llm2llm.models import embedded_gguf

    return Llama(model_path=str(embedded_gguf("smollm2-135m-instruct")), n_ctx=2048, n_threads=2, seed=0, verbose=False)


@pytest.mark.slow
def test_json_strings_from_the_grammar_hold_no_raw_control_characters():
    """A logits processor pushes the newline token up (as a teacher that wants to start a new line
    would): llama-cpp-python's own grammar lets it into the string, so the reply is not JSON; ours
    does not."""
    from llama_cpp import LlamaGrammar, LogitsProcessorList
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    llm = _llama()
    newline = llm.tokenize(b"\n", add_bos=False, special=False)
    assert len(newline) == 1

    def wants_newlines(input_ids, scores):
        scores[newline[0]] += 8.0
        return scores

    schema = {"type": "object", "additionalProperties": False, "required": ["question"],
              "properties": {"question": {"type": "string"}}}
    messages = [{"role": "user", "content": 'Write a question about rivers as JSON: {"question": "..."}'}]

    def reply(gbnf: str) -> str:
        llm.reset()
        r = llm.create_chat_completion(messages=messages, temperature=0.0, max_tokens=40, seed=0,
                                       grammar=LlamaGrammar.from_string(gbnf, verbose=False),
                                       logits_processor=LogitsProcessorList([wants_newlines]))
        return r["choices"][0]["message"]["content"]

    loose = reply(json_schema_to_gbnf(json.dumps(schema)))
    assert "\n" in loose.strip()  # the library's grammar: a raw newline inside the string
    with pytest.raises(json.JSONDecodeError):
        json.loads(loose)
    strict = reply(json_grammar_text(schema))
    assert "\n" not in strict.strip()
    assert strict.lstrip().startswith("{")


@pytest.mark.slow
def test_the_guard_stops_a_verbatim_copy_of_the_quoted_text():
    """Asked outright to repeat a seed question, the model does so without the guard; with it, no
    reply copies 4 consecutive tokens of it."""
    from llama_cpp import LogitsProcessorList

    llm = _llama()
    question = "How many dots make up the symbol for because ?"
    messages = [{"role": "user", "content": f"Repeat this question exactly, word for word: {question}"}]
    tokenize = lambda b: llm.tokenize(b, add_bos=False, special=False)  # noqa: E731

    def replies(guard: bool) -> list[str]:
        out = []
        for seed in range(3):
            llm.reset()
            kw = {"logits_processor": LogitsProcessorList([no_copy_processor(tokenize, [question], 4)])} if guard else {}
            r = llm.create_chat_completion(messages=messages, temperature=0.7, max_tokens=30, seed=seed, **kw)
            out.append(r["choices"][0]["message"]["content"])
        return out

    assert any(rouge_l(r, question) >= 0.95 for r in replies(guard=False))
    guarded = replies(guard=True)
    assert all(rouge_l(r, question) < 0.95 for r in guarded), guarded
    sources = NoCopyProcessor([tokenize(question.encode()), tokenize(b" " + question.encode())], 4).next_tokens
    for r in guarded:  # the whole reply, re-tokenised: no 4-token run of the question
        toks = tokenize(r.encode())
        assert not any(tuple(toks[i:i + 3]) in sources and toks[i + 3] in sources[tuple(toks[i:i + 3])]
                       for i in range(len(toks) - 3)), r


@pytest.mark.slow
def test_the_teacher_with_the_guard_writes_no_copy_of_its_parent_or_style_examples(tmp_path):
    """TREC seeds with three style examples each (the embedded default's prompt): with
    no_copy_ngram=4 no reply is an echo of the parent or a near-copy of a style example."""
    task, train = load_split("trec", "train")
    _, test = load_split("trec", "test")
    seeds = train[:40]
    parents = seeds[:8]
    cfg = teacher_cfg(name="llamacpp-inproc", backend="llamacpp", model="embedded:smollm2-135m-instruct",
                      max_tokens=96, max_reasks=0, style_examples=3, no_copy_ngram=4,
                      cache_path=str(tmp_path / "cache"))
    with Teacher(cfg, task, str(CACHE_DIR)) as t:
        r = t.augment(parents, k=1, iteration=1, existing=seeds, forbidden=test)
    assert r.stats["generated"] == len(parents) and r.examples, r.stats
    assert "echo" not in r.stats["rejected"], r.stats
    for parent, rec in zip(parents, r.records):
        shown = [parent, *style_examples(parent, seeds, 3, 0)]
        for reply, reason in zip(rec["outputs"], rec["reasons"]):
            try:
                text = next(iter(json.loads(reply).values()))
            except json.JSONDecodeError:  # cut off by max_tokens
                assert reason.startswith("bad_json"), reason
                continue
            assert max(rouge_l(text, e.text) for e in shown) < 0.95, (text, [e.text for e in shown])


@pytest.mark.slow
@pytest.mark.parametrize("placeholder", ["positive", "The new sentence"])
def test_the_placeholder_guard_stops_a_reply_that_is_only_a_label_or_a_self_description(placeholder):
    """Told to answer with the label (or "The new sentence") as the sentence, the model does so
    unless the guard is on."""
    from llama_cpp import LlamaGrammar, LogitsProcessorList

    from llm2llm.teacher.formats import is_self_description

    llm = _llama()
    schema = {"type": "object", "additionalProperties": False, "required": ["sentence"],
              "properties": {"sentence": {"type": "string"}}}
    reply = json.dumps({"sentence": placeholder})
    messages = [{"role": "user", "content": f"Reply with the JSON object {reply} and nothing else."}]
    quotes = quote_tokens(llm.detokenize, llm.n_vocab())

    def contents(guard: bool) -> list[str]:
        out = []
        for seed in range(3):
            llm.reset()
            kw = {"logits_processor": LogitsProcessorList([PlaceholderGuard(["positive", "negative"], llm.detokenize,
                                                                            quotes)])} if guard else {}
            r = llm.create_chat_completion(messages=messages, temperature=0.7, max_tokens=40, seed=seed,
                                           grammar=LlamaGrammar.from_string(json_grammar_text(schema), verbose=False),
                                           **kw)
            text = r["choices"][0]["message"]["content"]
            try:
                out.append(json.loads(text)["sentence"])
            except json.JSONDecodeError:  # cut off by max_tokens: still not a label alone
                out.append(text)
        return out

    assert any(normalise_label_text(c) == normalise_label_text(placeholder) for c in contents(guard=False))
    guarded = contents(guard=True)
    assert all(normalise_label_text(c) not in ("positive", "negative") and not is_self_description(c)
               for c in guarded), guarded


def test_the_guard_and_the_grammar_are_part_of_the_cache_key():
    """A cached answer is reused only for the same decoding rules: turning the guard on or off (or a
    new guard or grammar version) asks the model again instead of reading an answer made otherwise."""
    from llm2llm.teacher import copy_guard
    from llm2llm.teacher.inprocess import LlamaCppBackend

    schema = {"type": "object", "properties": {"sentence": {"type": "string"}}}
    fields = {n: LlamaCppBackend(teacher_cfg(backend="llamacpp", no_copy_ngram=n), str(CACHE_DIR)).key_fields(schema)
              for n in (0, 4)}
    assert fields[0] == {"grammar": copy_guard.GRAMMAR_VERSION}
    assert fields[4] == {"grammar": copy_guard.GRAMMAR_VERSION, "no_copy_ngram": 4, "guard": copy_guard.GUARD_VERSION}
    assert LlamaCppBackend(teacher_cfg(backend="llamacpp"), str(CACHE_DIR)).key_fields(None) == {}  # plain text
