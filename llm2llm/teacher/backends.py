"""Teacher backends: the request and result types every backend shares, and the official ``openai``
client (OpenAI or any OpenAI-compatible server); the in-process models are in
llm2llm.teacher.inprocess, the oracle in llm2llm.teacher.oracle. Each takes a list of requests and
returns one result per request (a ``Generation`` or the exception that request ended with): one
failed request never stops the others. Caching, validation and re-asking live in ``llm2llm.teacher.core``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from llm2llm.errors import Llm2llmError
from llm2llm.example import Example

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
    schema: dict[str, Any] | None = None  # constrain the reply to this JSON schema (llm2llm.teacher.output_format)
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
        if cfg.structured == "guided_json":
            log.warning("teacher.structured=guided_json: vLLM 0.12 and later ignore this field without an error and "
                        "reply unconstrained; for those use teacher.structured=structured_outputs (or json_schema)")
        self._client: Any = None

    def supports_schema(self) -> bool:
        """Only when asked for (``auto`` keeps the paper's plain text: gpt-3.5-turbo has no json_schema)."""
        return self.cfg.structured not in ("auto", "none")

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
        if self.cfg.send_seed:
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
