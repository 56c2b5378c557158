"""Teacher backends: the official ``openai`` client (OpenAI or any OpenAI-compatible server), the
in-process llama.cpp and transformers models, and the oracle (llm2llm.teacher.oracle). Each takes a list of requests and return one result per request
(a ``Generation`` or the exception that request ended with): one failed request never stops the
others. Caching, validation and re-asking live in ``llm2llm.teacher.core``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from llm2llm.errors import Llm2llmError
from llm2llm.example import Example
from llm2llm.teacher.copy_guard import (GRAMMAR_VERSION, GUARD_VERSION, PlaceholderGuard, json_grammar_text,
                                        no_copy_processor, quote_tokens)

log = logging.getLogger("llm2llm.teacher")

#: sent as the API key to a base_url server when the key variable is unset (llama.cpp, vLLM and
#: Ollama ignore it unless started with a key)
PLACEHOLDER_KEY = "sk-no-key-required"


class TeacherError(Llm2llmError):
    """The teacher cannot be used as configured (no key, server down, model missing)."""


class BadResponse(Exception):
    """The server answered 2xx with something that is not a chat completion (garbage, no choices)."""


@dataclass(frozen=True)
class GenRequest:
    key: str                         # the cache key (also seeds sampling)
    messages: list[dict[str, str]]
    schema: dict[str, Any] | None = None  # constrain the reply to this JSON schema (llm2llm.teacher.structured)
    quoted: tuple[str, ...] = ()     # texts shown in the prompt that the reply must not copy (teacher.no_copy_ngram)
    labels: tuple[str, ...] = ()     # label names a JSON reply's input may not consist of (same setting)
    parent: Example | None = None    # the seed example the request is about (teacher=oracle answers from it)
    sample: int = 0                  # the request's sample index for that parent


@dataclass(frozen=True)
class Generation:
    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int


Result = Generation | BaseException
OnDone = Callable[[GenRequest, Generation], None]


class RequestFailed(Exception):
    """A request that still failed after its retries (message scrubbed of API keys)."""


_KEYLIKE = re.compile(r"\b(sk-|key-)[A-Za-z0-9_\-*]{4,}")


def scrub(message: str, secret: str | None = None) -> str:
    """Remove an API key (and anything key-shaped, e.g. OpenAI's masked 'sk-abc***xyz') from a message."""
    if secret:
        message = message.replace(secret, "***")
    return _KEYLIKE.sub(r"\1***", message)


def seed_of(key: str) -> int:
    """A 31-bit sampling seed derived from a cache key."""
    return int(key[:8], 16) & 0x7FFFFFFF


class Backend:
    def supports_schema(self) -> bool:
        """Whether this backend, as configured, can constrain a reply to a JSON schema."""
        return False

    def key_fields(self, schema: dict[str, Any] | None) -> dict[str, Any]:
        """What else, beyond the prompt, sampling settings and schema, decides a reply (cache key)."""
        return {}

    def check_ready(self) -> None:
        raise NotImplementedError

    def exclude(self, examples: Iterable[Example]) -> None:
        """Examples that a reply must not reproduce: the run's training and test sets (teacher=oracle
        skips them; a generating model is held to them by the validators alone)."""

    def generate(self, requests: list[GenRequest], on_done: OnDone) -> list[Result]:
        """Answer every request; call ``on_done`` as soon as each succeeds (so the cache fills even
        if the run is killed half way)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------ OpenAI
def structured_request(how: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The request fields that constrain a reply to ``schema``, by server kind (teacher.structured)."""
    if how == "json_schema":  # OpenAI (and vLLM, llama.cpp server in recent versions)
        return {"response_format": {"type": "json_schema",
                                    "json_schema": {"name": "example", "schema": schema, "strict": True}}}
    if how == "structured_outputs":  # vLLM >= 0.10.2 (the only vLLM field from 0.12 on)
        return {"extra_body": {"structured_outputs": {"json": schema}}}
    if how == "guided_json":  # vLLM < 0.12 only: 0.12 removed it, and newer servers ignore it without an error
        return {"extra_body": {"guided_json": schema}}
    if how == "json_object":  # llama.cpp's server: a JSON object constrained by a schema
        return {"response_format": {"type": "json_object", "schema": schema}}
    raise TeacherError("teacher.structured: auto | none | json_schema | structured_outputs | guided_json | json_object, "
                       f"got {how!r}")


class OpenAIBackend(Backend):
    """``AsyncOpenAI`` with a concurrency limit.

    Faults: the client itself retries 408/409/429/5xx, timeouts and connection errors up to
    ``max_retries`` times with exponential backoff (0.5 s doubling, capped at 8 s, jittered) and
    honours ``Retry-After``/``retry-after-ms`` up to 120 s; ``timeout_s`` bounds each attempt.
    A 2xx reply that is not a chat completion (a proxy's garbage page, no choices) is retried
    here with the same bound. Everything is bounded: at most ``max_retries + 1`` attempts.
    llama.cpp's server answers ``n > 1`` with one choice, so every sample is its own request.
    """

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self._key = os.environ.get(cfg.api_key_env) or None
        self._loop = asyncio.new_event_loop()
        if getattr(cfg, "structured", "auto") == "guided_json":
            log.warning("teacher.structured=guided_json: vLLM 0.12 and later ignore this field without an error and "
                        "reply unconstrained; for those use teacher.structured=structured_outputs (or json_schema)")
        self._client: Any = None

    def supports_schema(self) -> bool:
        """Only when asked for (``auto`` keeps the paper's plain text: gpt-3.5-turbo has no json_schema)."""
        return getattr(self.cfg, "structured", "auto") not in ("auto", "none")

    @property
    def where(self) -> str:
        return self.cfg.base_url or "the OpenAI API"

    def _get_client(self) -> Any:
        if self._client is None:
            from openai import AsyncOpenAI

            key = self._key
            if key is None:
                if not self.cfg.base_url:
                    raise TeacherError(
                        f"teacher {self.cfg.name!r} talks to the OpenAI API but ${self.cfg.api_key_env} is not set; "
                        f"export {self.cfg.api_key_env}=... (keys are read from the environment only), or point "
                        "teacher.base_url at an OpenAI-compatible server, or use teacher=local-smollm2-llamacpp")
                key = PLACEHOLDER_KEY
            self._client = AsyncOpenAI(api_key=key, base_url=self.cfg.base_url, timeout=self.cfg.timeout_s,
                                       max_retries=self.cfg.max_retries)
        return self._client

    def check_ready(self) -> None:
        """Key present (OpenAI), server reachable and the key accepted: one cheap models.list call."""
        import openai

        client = self._get_client().with_options(timeout=min(self.cfg.timeout_s, 15.0), max_retries=1)

        async def probe() -> list[str]:
            try:
                page = await client.models.list()
                return [m.id for m in page.data]
            except openai.NotFoundError:  # a server without /models: try a 1-token completion instead
                await client.chat.completions.create(model=self.cfg.model, max_tokens=1,
                                                     messages=[{"role": "user", "content": "hi"}])
                return []

        try:
            served = self._loop.run_until_complete(probe())
        except openai.AuthenticationError:
            raise TeacherError(f"{self.where} rejected the API key in ${self.cfg.api_key_env} (401 Unauthorized)") from None
        except (openai.APIConnectionError, openai.APITimeoutError) as e:
            raise TeacherError(f"teacher server {self.where} is not reachable ({type(e).__name__}); "
                               "start it or fix teacher.base_url") from None
        except openai.APIStatusError as e:
            raise TeacherError(f"teacher server {self.where} answered {e.status_code} to a readiness check: "
                               f"{scrub(str(e.message), self._key)[:200]}") from None
        if served and self.cfg.model not in served:
            if not self.cfg.base_url:
                raise TeacherError(f"model {self.cfg.model!r} is not available to this OpenAI key")
            # llama.cpp serves any model name; vLLM/Ollama will refuse it on the first call.
            log.warning("teacher server %s lists %s, not %r", self.where, served[:5], self.cfg.model)
        log.info("teacher %s ready at %s", self.cfg.model, self.where)

    def generate(self, requests: list[GenRequest], on_done: OnDone) -> list[Result]:
        return self._loop.run_until_complete(self._generate(requests, on_done))

    async def _generate(self, requests: list[GenRequest], on_done: OnDone) -> list[Result]:
        client = self._get_client()
        sem = asyncio.Semaphore(max(1, int(self.cfg.concurrency)))

        async def one(req: GenRequest) -> Result:
            async with sem:
                try:
                    gen = await self._call_with_retries(client, req)
                except Exception as e:  # recorded per request by the caller; never stops the others
                    return RequestFailed(f"{type(e).__name__}: {scrub(str(e), self._key)}")
            on_done(req, gen)
            return gen

        return list(await asyncio.gather(*(one(r) for r in requests)))

    async def _call_with_retries(self, client: Any, req: GenRequest) -> Generation:
        from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(BadResponse), stop=stop_after_attempt(self.cfg.max_retries + 1),
            wait=wait_exponential(multiplier=0.5, max=8.0), reraise=True,
        ):
            with attempt:
                return await self._call(client, req)
        raise AssertionError("unreachable")

    async def _call(self, client: Any, req: GenRequest) -> Generation:
        import openai

        kwargs: dict[str, Any] = dict(model=self.cfg.model, messages=req.messages, temperature=self.cfg.temperature,
                                      top_p=self.cfg.top_p, max_tokens=self.cfg.max_tokens, n=1)
        if getattr(self.cfg, "send_seed", True):
            kwargs["seed"] = seed_of(req.key)
        if req.schema is not None:
            kwargs.update(structured_request(self.cfg.structured, req.schema))
        try:
            resp = await client.chat.completions.create(**kwargs)
        except (openai.APIResponseValidationError, ValueError) as e:  # 2xx with a body that is not JSON / not a completion
            raise BadResponse(f"unparseable response: {type(e).__name__}") from None
        try:
            choice = resp.choices[0]
            text = choice.message.content
        except (AttributeError, IndexError, TypeError, KeyError):
            raise BadResponse("response has no choices") from None
        if not isinstance(text, str):
            raise BadResponse("response has no message content")
        usage = getattr(resp, "usage", None)
        return Generation(text=text, finish_reason=getattr(choice, "finish_reason", None),
                          prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                          completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0))

    def close(self) -> None:
        if self._client is not None:
            try:
                self._loop.run_until_complete(self._client.close())
            except Exception:  # closing a dead connection pool must not mask the run's result
                pass
            self._client = None
        if not self._loop.is_closed():
            self._loop.close()


# ------------------------------------------------------------------------------ local
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
            self.model = load_model(path, dtype=getattr(self.cfg, "dtype", "auto"))
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
        return getattr(self.cfg, "structured", "auto") != "none"

    def key_fields(self, schema: dict[str, Any] | None) -> dict[str, Any]:
        n = int(getattr(self.cfg, "no_copy_ngram", 0))
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
        threads = int(getattr(self.cfg, "n_threads", 0)) or len(os.sched_getaffinity(0))
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
        n = int(getattr(self.cfg, "no_copy_ngram", 0))
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
