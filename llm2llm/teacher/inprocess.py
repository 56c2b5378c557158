"""The in-process teacher backends: a transformers chat model (``local``) and a GGUF model through
llama-cpp-python (``llamacpp``). The request and result types are llm2llm.teacher.backends'."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any

from llm2llm.errors import Llm2llmError
from llm2llm.teacher.backends import Backend, GenRequest, Generation, OnDone, Result, TeacherError, seed_of
from llm2llm.teacher.copy_guard import (GRAMMAR_VERSION, GUARD_VERSION, PlaceholderGuard, json_grammar_text,
                                        no_copy_processor, quote_tokens)

log = logging.getLogger("llm2llm.teacher")


class LocalBackend(Backend):
    """An in-process transformers chat model (default: the embedded SmolLM2-135M-Instruct).

    Requests are generated in batches of ``batch_size`` with left padding and the chat template.
    Sampling is seeded from the batch's cache keys, so a given batch always samples the same way;
    since batches are formed deterministically from the run's inputs and every answer is cached,
    a re-run reproduces the same outputs exactly.
    """

    def __init__(self, cfg: Any, cache_dir: str) -> None:
        self.cfg = cfg
        self.cache_dir = cache_dir
        self.model: Any = None
        self.tok: Any = None

    def check_ready(self) -> None:
        self._load()

    def _load(self) -> None:
        if self.model is not None:
            return
        from llm2llm.models import load_model, load_tokenizer, resolve_model

        path = resolve_model(self.cfg.model, self.cache_dir)
        try:
            self.tok = load_tokenizer(path)
            self.model = load_model(path, dtype=self.cfg.dtype)
        except Llm2llmError:
            raise
        except Exception as e:
            raise TeacherError(f"could not load the local teacher {self.cfg.model!r}: {type(e).__name__}: {e}") from None
        self.model.eval()
        if getattr(self.tok, "chat_template", None) is None:
            raise TeacherError(f"local teacher {self.cfg.model!r} has no chat template; use an instruction-tuned model")
        log.info("local teacher %s loaded from %s", self.cfg.model, path)

    def generate(self, requests: list[GenRequest], on_done: OnDone) -> list[Result]:
        self._load()
        results: list[Result] = [RuntimeError("not generated")] * len(requests)
        prompts = [self.tok.apply_chat_template(r.messages, add_generation_prompt=True, tokenize=False) for r in requests]
        # batch similar lengths together (less padding); the order is a pure function of the inputs
        order = sorted(range(len(requests)), key=lambda i: (len(prompts[i]), requests[i].key))
        bs = max(1, int(self.cfg.batch_size))
        for start in range(0, len(order), bs):
            idx = order[start:start + bs]
            try:
                gens = self._generate_batch([prompts[i] for i in idx], [requests[i].key for i in idx])
            except Exception as e:  # e.g. out of memory: every request of the batch fails, the rest go on
                for i in idx:
                    results[i] = e
                continue
            for i, gen in zip(idx, gens):
                results[i] = gen
                on_done(requests[i], gen)
        return results

    def _generate_batch(self, prompts: list[str], keys: list[str]) -> list[Generation]:
        import torch

        enc = self.tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        sample = self.cfg.temperature > 0
        seed = int(hashlib.sha256("".join(keys).encode()).hexdigest()[:8], 16)
        gen_kwargs: dict[str, Any] = dict(max_new_tokens=self.cfg.max_tokens, do_sample=sample,
                                          pad_token_id=self.tok.pad_token_id)
        if sample:
            gen_kwargs.update(temperature=self.cfg.temperature, top_p=self.cfg.top_p)
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(seed)
            out = self.model.generate(**enc, **gen_kwargs)
        new = out[:, enc["input_ids"].shape[1]:]
        eos = {t for t in (self.tok.eos_token_id, self.tok.pad_token_id) if t is not None}
        gens = []
        for row, mask in zip(new.tolist(), enc["attention_mask"].tolist()):
            n = next((j for j, t in enumerate(row) if t in eos), None)
            tokens = row if n is None else row[:n]
            gens.append(Generation(text=self.tok.decode(tokens, skip_special_tokens=True).strip(),
                                   finish_reason="length" if n is None else "stop",
                                   prompt_tokens=int(sum(mask)), completion_tokens=len(tokens)))
        return gens


class LlamaCppBackend(Backend):
    """A GGUF model in-process through llama-cpp-python (default: the embedded SmolLM2-135M-Instruct).

    Requests run one after another (llama-cpp-python's chat API decodes one sequence at a time),
    each seeded from its cache key, and its text depends on the request alone: the same key gives
    the same text, whatever else was asked before or is already cached. Most of a prompt (the
    instruction, the label list, the reply's schema, often the style examples) is shared with the
    request before it, so its KV state is kept (``reuse_prefix``, llm2llm.teacher.prefix_reuse):
    only whole ``n_batch``-token blocks of the shared prefix, which llama.cpp computed from exactly
    the same tokens in exactly the same batches as a request starting from an empty state would,
    so the text is the one an empty state gives, bit for bit. Requests are answered in the order
    of their messages, which puts the ones sharing the longest prefix next to each other. A JSON
    schema becomes a grammar that constrains decoding, and with ``no_copy_ngram`` the reply may not
    copy the examples quoted in the prompt (llm2llm.teacher.copy_guard).
    """

    #: prompt tokens decoded per batch; the kept prefix is whole blocks of this many tokens (the
    #: replies equal those of llama-cpp-python's default 512: docs/benchmarks-teacher-prefix.md)
    N_BATCH = 64

    def __init__(self, cfg: Any, cache_dir: str, reuse_prefix: bool = True) -> None:
        self.cfg = cfg
        self.cache_dir = cache_dir
        self.reuse_prefix = reuse_prefix  # False: every request starts from an empty KV state
        self.llm: Any = None
        self._quote_tokens: Any = None  # ids of the tokens that contain '"' (PlaceholderGuard)

    def supports_schema(self) -> bool:
        return self.cfg.structured != "none"

    def key_fields(self, schema: dict[str, Any] | None) -> dict[str, Any]:
        n = self.cfg.no_copy_ngram
        grammar = {"grammar": GRAMMAR_VERSION} if schema is not None else {}
        return {**grammar, **({"no_copy_ngram": n, "guard": GUARD_VERSION} if n else {})}

    def check_ready(self) -> None:
        self._load()

    def _load(self) -> None:
        if self.llm is not None:
            return
        from pathlib import Path

        try:
            from llama_cpp import Llama
        except ImportError:
            raise TeacherError("teacher.backend=llamacpp needs llama-cpp-python (pip install '.[llamacpp]')") from None
        from llm2llm.models import EMBEDDED_PREFIX, embedded_gguf

        model = str(self.cfg.model)
        path = embedded_gguf(model[len(EMBEDDED_PREFIX):]) if model.startswith(EMBEDDED_PREFIX) else Path(model).expanduser()
        if not Path(path).is_file():
            raise TeacherError(f"teacher.model: {path} is not a GGUF file (or embedded:<name>)")
        threads = self.cfg.n_threads or len(os.sched_getaffinity(0))
        if self.reuse_prefix:
            from llm2llm.teacher.prefix_reuse import block_aligned_llama

            Llama = block_aligned_llama(Llama)
        self.llm = Llama(model_path=str(path), n_ctx=2048, n_batch=self.N_BATCH, n_threads=threads,
                         n_threads_batch=threads, seed=0, verbose=False)
        log.info("llama.cpp teacher %s loaded from %s", model, path)

    def generate(self, requests: list[GenRequest], on_done: OnDone) -> list[Result]:
        self._load()
        results: list[Result] = [RuntimeError("not generated")] * len(requests)
        order = list(range(len(requests)))
        if self.reuse_prefix:  # neighbours share the longest prefixes; each text is independent of the order
            order = sorted(order, key=lambda i: json.dumps(requests[i].messages, ensure_ascii=False))
        for i in order:
            req = requests[i]
            try:
                gen = self._one(req)
            except Exception as e:  # one failed request never stops the others
                self.llm.reset()  # and leaves no half-decoded state to the next one
                results[i] = e
                continue
            results[i] = gen
            on_done(req, gen)
        return results

    def _one(self, req: GenRequest) -> Generation:
        if not self.reuse_prefix:
            self.llm.reset()  # no KV state carried over from the previous request
        kwargs: dict[str, Any] = dict(messages=req.messages, temperature=self.cfg.temperature, top_p=self.cfg.top_p,
                                      max_tokens=self.cfg.max_tokens, seed=seed_of(req.key))
        if req.schema is not None:
            from llama_cpp import LlamaGrammar

            kwargs["grammar"] = LlamaGrammar.from_string(json_grammar_text(req.schema), verbose=False)
        n = self.cfg.no_copy_ngram
        if n:
            from llama_cpp import LogitsProcessorList

            tokenize = lambda b: self.llm.tokenize(b, add_bos=False, special=False)  # noqa: E731
            guards: list[Any] = [no_copy_processor(tokenize, req.quoted, n)] if req.quoted else []
            if req.labels and req.schema is not None:
                if self._quote_tokens is None:
                    self._quote_tokens = quote_tokens(self.llm.detokenize, self.llm.n_vocab())
                guards.append(PlaceholderGuard(req.labels, self.llm.detokenize, self._quote_tokens))
            kwargs["logits_processor"] = LogitsProcessorList(guards)
        resp = self.llm.create_chat_completion(**kwargs)
        choice, usage = resp["choices"][0], resp.get("usage") or {}
        return Generation(text=(choice["message"].get("content") or "").strip(), finish_reason=choice.get("finish_reason"),
                          prompt_tokens=int(usage.get("prompt_tokens", 0)),
                          completion_tokens=int(usage.get("completion_tokens", 0)))

    def close(self) -> None:
        if self.llm is not None:
            self.llm.close()
            self.llm = None
