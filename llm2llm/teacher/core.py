"""The Teacher: prompts a teacher model for new examples, through the cache, and keeps the good ones.

``augment`` (LLM2LLM) and ``rephrase`` (AugGPT) share one deterministic procedure:

1. render each input example's prompt from its task's YAML template;
2. round 0 asks for ``k`` samples per example (sample indices 0..k-1; one request per sample,
   since OpenAI-compatible servers such as llama.cpp ignore ``n > 1``);
3. every reply is parsed strictly, then checked against the test set (decontamination) and
   against everything known so far (ROUGE-L dedup), in input order, so the outcome does not
   depend on which request finished first;
4. an example still short of ``k`` kept outputs is re-asked with fresh sample indices, at most
   ``max_reasks`` more rounds; then it is recorded as failed (never silently dropped).

Every request is looked up in the cache (llm2llm/teacher/cache.py) first and stored as soon as it is answered, so a
re-run or resumed run asks the model nothing it has asked before.

What makes a request (its cache key): the teacher (backend, model, sampling settings), the rendered
messages, and (run seed, iteration, parent seed id, sample index). So a seed the student keeps
getting wrong gets *fresh* samples every iteration (not iteration 1's cached answers, which dedup
would reject), and runs with different seeds never receive identical augmentations. What sweep
jobs share, deliberately: jobs with the same run seed that ask the same teacher for the same
parent at the same iteration get the same answer, whatever else differs between them (student,
trainer, ``method.k``: k=2 asks samples 0 and 1, k=1 reuses sample 0). Their comparison is then
controlled for teacher sampling noise, and the teacher is paid once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from llm2llm.example import Example
from llm2llm.tasks.base import Task
from llm2llm.teacher.backends import Backend, GenRequest, Generation, Result
from llm2llm.teacher.cache import TeacherCache, cache_key
from llm2llm.teacher.dedup import NearDuplicateIndex
from llm2llm.teacher.factory import make_backend
from llm2llm.teacher.formats import Parsed, Rejected
from llm2llm.teacher.output_format import output_format
from llm2llm.teacher.progress import StageProgress
from llm2llm.teacher.prompts import PromptTemplate, load_template, placeholders, style_examples

log = logging.getLogger("llm2llm.teacher")


@dataclass
class AugmentResult:
    examples: list[Example]        # validated, deduplicated new examples
    records: list[dict[str, Any]]  # one per input example
    stats: dict[str, Any]


@dataclass
class _State:
    """Book-keeping for one input example during a call."""
    parent: Example
    messages: list[dict[str, str]]
    mode: str  # augment | rephrase
    schema: dict[str, Any] | None = None  # the reply's JSON schema (constrained decoding), or None: plain text
    quoted: tuple[str, ...] = ()  # the examples shown in the prompt (parent, style examples): not to be copied
    labels: tuple[str, ...] = ()  # label names a JSON reply's input may not consist of
    next_sample: int = 0
    kept: list[Example] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: int = 0


def _new_stats() -> dict[str, Any]:
    return {"requests": 0, "cache_hits": 0, "cache_misses": 0, "request_errors": 0, "prompt_tokens": 0,
            "completion_tokens": 0, "cost_usd": 0.0, "priced": False, "generated": 0, "kept": 0,
            "rejected": {}, "failed_examples": 0, "wall_s": 0.0}


def merge_stats(total: dict[str, Any], stats: Any) -> None:
    """Add one call's stats into ``total``: counts summed (nested ones too, e.g. rejection reasons),
    flags or-ed, anything else kept from the first call."""
    if stats is None:
        return
    if not isinstance(stats, dict):
        stats = getattr(stats, "__dict__", {}) or {}
    for k, v in stats.items():
        if isinstance(v, bool):
            total[k] = total.get(k, False) or v
        elif isinstance(v, (int, float)):
            total[k] = total.get(k, 0) + v
        elif isinstance(v, dict):
            sub = total.setdefault(k, {})
            if isinstance(sub, dict):
                merge_stats(sub, v)
        else:
            total.setdefault(k, v)


class Teacher:
    """See the module docstring. ``cache_dir`` holds the cache file unless ``cfg.cache_path`` is set,
    and the materialised embedded model for the local backend."""

    def __init__(self, cfg: Any, task: Task, cache_dir: str, backend: Backend | None = None, run_seed: int = 0) -> None:
        self.cfg = cfg
        self.task = task
        self.format = output_format(task)  # how replies are parsed, constrained and written
        self.run_seed = run_seed
        self.cache_dir = str(Path(cache_dir).expanduser())
        self.cache = TeacherCache(Path(cfg.cache_path).expanduser() if cfg.cache_path
                                  else Path(self.cache_dir) / "teacher_cache")
        self.backend = backend or make_backend(cfg, self.cache_dir, task)
        # load templates now: a broken template fails before any training starts
        self.templates: dict[str, PromptTemplate] = {
            "augment": load_template(task.teacher_template, cfg.template_dir),
            "rephrase": load_template(f"rephrase_{task.teacher_template}", cfg.template_dir),
        }

    # ----------------------------------------------------------------------- public API
    def check_ready(self) -> None:
        """Fail fast (TeacherError, one line) if the teacher cannot answer: no key, no server, no model."""
        self.backend.check_ready()

    def augment(self, wrong: list[Example], k: int, iteration: int, existing: list[Example],
                forbidden: list[Example]) -> AugmentResult:
        """LLM2LLM: ``k`` new examples per wrong seed example (paper: k=1)."""
        not_seed = [e.id for e in wrong if not e.is_seed]
        if not_seed:
            raise ValueError(f"only seed examples go to the teacher; got non-seed {not_seed[:5]}")
        return self._run(wrong, k, "augment", existing, forbidden, origin="teacher", iteration=iteration,
                         make_id=lambda pid, j: f"{pid}-it{iteration}-t{j}")

    def rephrase(self, examples: list[Example], num_aug: int, existing: list[Example],
                 forbidden: list[Example], iteration: int = 0) -> AugmentResult:
        """AugGPT: ``num_aug`` label-preserving rephrasings of each example."""
        return self._run(examples, num_aug, "rephrase", existing, forbidden, origin="auggpt", iteration=iteration,
                         make_id=lambda pid, j: f"{pid}-auggpt-r{j}")

    def close(self) -> None:
        self.backend.close()
        self.cache.close()

    def __enter__(self) -> "Teacher":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ----------------------------------------------------------------------- the procedure
    def _run(self, inputs: list[Example], k: int, mode: str, existing: list[Example], forbidden: list[Example],
             origin: str, iteration: int, make_id: Any) -> AugmentResult:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        t0 = time.perf_counter()
        stats = _new_stats()
        rejected: Counter[str] = Counter()
        threshold = self.cfg.dedup_threshold
        known = NearDuplicateIndex((e.text for e in existing), threshold)
        test = NearDuplicateIndex((e.text for e in forbidden), threshold)
        template = self.templates[mode]
        states = [self._state(ex, template, mode, [*inputs, *existing]) for ex in inputs]
        self.backend.exclude([*inputs, *existing, *forbidden])

        bar = StageProgress(f"teacher {mode} iter {iteration}")
        try:
            for _round in range(1 + self.cfg.max_reasks):
                todo: list[tuple[_State, int]] = []
                for st in states:
                    need = k - len(st.kept)
                    todo += [(st, st.next_sample + j) for j in range(need)]
                    st.next_sample += max(need, 0)
                if not todo:
                    break
                preview = _Preview([st for st, _ in todo], known.copy(),
                                   lambda st, res, idx: self._check(st, res, test, idx, quiet=True), bar)
                results = self._generate([(st, {"iteration": iteration, "parent": st.parent.id, "sample": s})
                                          for st, s in todo], stats, preview.offer, bar)
                for (st, sample), res in zip(todo, results):  # input order: deterministic dedup decisions
                    st.requests += 1
                    if isinstance(res, BaseException):
                        stats["request_errors"] += 1
                        st.errors.append(f"sample {sample}: {str(res)[:300]}")
                        continue
                    stats["generated"] += 1
                    st.outputs.append(res.text)
                    try:
                        parsed = self._check(st, res, test, known)
                    except Rejected as r:
                        rejected[r.reason] += 1
                        st.reasons.append(str(r))
                        continue
                    known.add(parsed.text)
                    st.reasons.append("kept")
                    p = st.parent
                    st.kept.append(Example(
                        id=make_id(p.id, len(st.kept)), text=parsed.text, answer=parsed.answer, choices=parsed.choices,
                        origin=origin, parent_id=p.id, iteration=iteration, teacher_model=self.cfg.model,
                        meta={"sample": sample, "template": template.name, "finish_reason": res.finish_reason},
                    ))
                bar.settle(sum(len(st.kept) for st in states), sum(rejected.values()))
        finally:
            bar.close()

        examples, records = [], []
        for st in states:
            examples += st.kept
            status = "augmented" if st.kept else "failed"
            stats["failed_examples"] += status == "failed"
            records.append({"parent_id": st.parent.id, "status": status, "n_wanted": k, "n_kept": len(st.kept),
                            "n_requests": st.requests, "new_ids": [e.id for e in st.kept], "outputs": st.outputs,
                            "reasons": st.reasons, "errors": st.errors})
        stats["kept"] = len(examples)
        stats["rejected"] = dict(sorted(rejected.items()))
        stats["wall_s"] = round(time.perf_counter() - t0, 4)
        log.info("teacher %s: %d inputs -> %d kept, %d failed; %d requests (%d cached), rejected %s, $%.4f, %.1fs",
                 mode, len(inputs), stats["kept"], stats["failed_examples"], stats["requests"], stats["cache_hits"],
                 stats["rejected"], stats["cost_usd"], stats["wall_s"])
        return AugmentResult(examples=examples, records=records, stats=stats)

    def _check(self, st: _State, res: Generation, test: NearDuplicateIndex, known: NearDuplicateIndex,
               quiet: bool = False) -> Parsed:
        """The new example in a reply, or Rejected (unparsable, invalid, a copy of a test example or a
        near-duplicate of a known one). Adds nothing to ``known``."""
        text = res.text
        if st.schema is not None:
            try:
                text = self.format.to_plain(text, self.task, st.parent)
            except (ValueError, KeyError, TypeError) as e:
                raise Rejected("bad_json", str(e)[:100]) from None
        try:
            parsed = self.format.parse(text, st.parent, self.task, st.mode, self.cfg.check_calculations,
                                       truncated=res.finish_reason == "length" and st.schema is None)
        except Rejected:
            raise
        except Exception as e:  # a parser bug on one (cached) reply must not block every re-run
            if not quiet:
                log.warning("teacher reply for %s crashed the parser (%r); rejected", st.parent.id, e)
            raise Rejected("parse_error", f"{type(e).__name__}: {str(e)[:80]}") from None
        if test.match(parsed.text):
            raise Rejected("contaminated", "copies a test example")
        if known.match(parsed.text):
            raise Rejected("duplicate", f"ROUGE-L >= {known.threshold} with a known example")
        return parsed

    def _state(self, ex: Example, template: PromptTemplate, mode: str, pool: list[Example]) -> _State:
        """An input's rendered prompt, with its JSON schema where the backend can constrain the reply."""
        n_style = self.cfg.style_examples if template.shows_style_examples else 0
        style = style_examples(ex, pool, n_style, self.run_seed)  # other seeds, same label
        messages = template.render(placeholders(self.task, ex, style))
        schema = self.format.schema(self.task, ex, mode) if self.backend.supports_schema() else None
        if schema is not None:
            messages = messages[:-1] + [{**messages[-1], "content": messages[-1]["content"]
                                         + self.format.instruction(self.task, ex, mode)}]
        labels = tuple(self.task.labels or ()) if schema is not None else ()
        return _State(ex, messages, mode, schema, quoted=(ex.text, *(e.text for e in style)), labels=labels)

    def _generate(self, items: list[tuple[_State, dict[str, Any]]], stats: dict[str, Any],
                  on_result: Callable[[int, Result], None] | None = None,
                  bar: "StageProgress | None" = None) -> list[Result]:
        """One result per (input's state, request identity): from the cache, else from the backend (and
        cached). The quoted texts and labels are part of the messages, so not of the key. ``on_result``
        hears each item's result as soon as it is known (for the progress bar)."""
        cfg = self.cfg
        payloads = [{"backend": cfg.backend, "model": cfg.model, "messages": st.messages, "temperature": cfg.temperature,
                     "top_p": cfg.top_p, "max_tokens": cfg.max_tokens, "run_seed": self.run_seed, **ident,
                     **({"schema": st.schema} if st.schema is not None else {}), **self.backend.key_fields(st.schema)}
                    for st, ident in items]
        keys = [cache_key(p) for p in payloads]
        state_of = {key: st for key, (st, _) in zip(keys, items)}
        found = self.cache.get_many(keys)
        by_key: dict[str, Result] = {k: Generation(**v) for k, v in found.items()}
        missing: dict[str, GenRequest] = {}
        payload_of = dict(zip(keys, payloads))
        for key, payload in zip(keys, payloads):
            if key not in by_key and key not in missing:
                missing[key] = GenRequest(key=key, messages=payload["messages"], schema=payload.get("schema"),
                                          quoted=state_of[key].quoted, labels=state_of[key].labels,
                                          parent=state_of[key].parent, sample=payload["sample"])
        stats["requests"] += len(keys)
        stats["cache_misses"] += len(missing)
        stats["cache_hits"] += len(keys) - len(missing)
        indices: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            indices.setdefault(key, []).append(i)
        if bar is not None:
            bar.add(len(keys), cached=len(keys) - len(missing))
        if on_result is not None:
            for key, res in by_key.items():
                for i in indices[key]:
                    on_result(i, res)

        def on_done(req: GenRequest, gen: Generation) -> None:
            self.cache.put(req.key, payload_of[req.key], gen.text, gen.finish_reason, gen.prompt_tokens,
                           gen.completion_tokens)
            stats["prompt_tokens"] += gen.prompt_tokens
            stats["completion_tokens"] += gen.completion_tokens
            if bar is not None:
                bar.answered(len(indices[req.key]), gen.completion_tokens)
            if on_result is not None:
                for i in indices[req.key]:
                    on_result(i, gen)

        if missing:
            reqs = list(missing.values())
            if bar is not None:
                bar.start_generating()
            results = self.backend.generate(reqs, on_done)
            failed = [(r, res) for r, res in zip(reqs, results) if isinstance(res, BaseException)]
            if bar is not None:
                bar.stop_generating()
                bar.answered(sum(len(indices[r.key]) for r, _ in failed), 0)
            if on_result is not None:
                for r, res in failed:
                    for i in indices[r.key]:
                        on_result(i, res)
            # Another job may have stored an answer for the same key first: re-read the shards and use
            # the answer the cache counts (the first written), so racing jobs and any re-run agree.
            stored = self.cache.get_many([r.key for r, res in zip(reqs, results) if isinstance(res, Generation)],
                                         refresh=True)
            for req, res in zip(reqs, results):
                by_key[req.key] = Generation(**stored[req.key]) if req.key in stored else res
        price = cfg.price_per_mtok
        if price:
            stats["priced"] = True
            stats["cost_usd"] = round(stats["prompt_tokens"] / 1e6 * float(price.get("prompt", 0))
                                      + stats["completion_tokens"] / 1e6 * float(price.get("completion", 0)), 6)
        return [by_key[k] for k in keys]


class _Preview:
    """Checks a round's replies for the bar as they arrive, in input order (a reply waits for those
    before it), against a copy of the known texts, so the bar's kept / rejected counts are the ones
    the round will decide. The round's own pass over the results stays the record; it replaces these
    counts when the round ends (they can differ only when another job raced this one to the same
    request and its answer, written first, is the one used)."""

    def __init__(self, states: list[_State], known: NearDuplicateIndex,
                 check: Callable[[_State, Generation, NearDuplicateIndex], Parsed], bar: StageProgress) -> None:
        self.states, self.known, self.check, self.bar = states, known, check, bar
        self.results: list[Result | None] = [None] * len(states)
        self.next = 0

    def offer(self, index: int, result: Result) -> None:
        if self.results[index] is None:
            self.results[index] = result
        while self.next < len(self.results) and self.results[self.next] is not None:
            res = self.results[self.next]
            self.next += 1
            if isinstance(res, BaseException):
                continue
            try:
                parsed = self.check(self.states[self.next - 1], res, self.known)
            except Rejected:
                self.bar.checked(False)
                continue
            self.known.add(parsed.text)
            self.bar.checked(True)
