"""Fixtures and helpers for the teacher tests (import them from a test module: no conftest needed).

- ``FakeOpenAIServer``: a tiny OpenAI-compatible HTTP server of our own, on a free loopback port,
  whose replies (content, faults, delays) a test programs; it counts every call that reaches it,
  and in proxy mode forwards to a real server (llama.cpp) so that calls can be counted there too.
- ``llama_server``: a real llama.cpp OpenAI-compatible server (``python -m llama_cpp.server``)
  running the embedded SmolLM2 GGUF, started once per test session and stopped by its PID.
- ``load_split``: real examples from the shared data folder.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest

from cli_helpers import require_data_dir
from llm2llm.config import TaskConfig, TeacherConfig, teacher_config
from llm2llm.example import Example
from llm2llm.student.distributed import free_port
from llamacpp_server import start_llama_server
from llm2llm.tasks import build_task


@lru_cache(maxsize=None)
def _task_and_split(name: str, split: str) -> tuple[Any, tuple[Example, ...]]:
    task = build_task(TaskConfig(name=name), str(require_data_dir()))
    return task, tuple(task.load(split))


def load_split(name: str, split: str) -> tuple[Any, list[Example]]:
    """(task, examples) of a real dataset split, loaded once per session."""
    task, examples = _task_and_split(name, split)
    return task, list(examples)


def teacher_cfg(**overrides: Any) -> TeacherConfig:
    """A teacher config for the fake server (openai backend; another ``backend`` gets only the shared keys)."""
    base: dict[str, Any] = dict(name="test", backend="openai", model="fake-model", temperature=1.0,
                                max_tokens=64, max_reasks=2)
    if overrides.get("backend", "openai") == "openai":
        base.update(concurrency=4, timeout_s=5.0, max_retries=3)
    base.update(overrides)
    return teacher_config(**base)


# ------------------------------------------------------------------------ fake server
@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | None = None       # dict -> JSON; None -> a completion with ``content``
    content: str = ""
    headers: dict[str, str] | None = None
    delay_s: float = 0.0


def completion(content: str, model: str = "fake-model") -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


class FakeOpenAIServer:
    """``handler(request_json, body_digest, times_seen) -> Reply`` decides every chat completion.

    Records: ``calls`` (chat completions that reached the server), ``arrivals[digest]`` (arrival
    times per identical request body: retries of one request share a body), ``max_inflight``.
    ``upstream``: forward requests there (proxy mode) unless the handler returns a Reply.
    """

    def __init__(self, handler: Callable[[dict, str, int], Reply | None] | None = None,
                 upstream: str | None = None, models: list[str] | None = None, models_status: int = 200) -> None:
        self.handler = handler or (lambda req, digest, seen: Reply(content="hello"))
        self.upstream = upstream
        self.models = models or ["fake-model"]
        self.models_status = models_status
        self.calls = 0
        self.auth: list[str] = []  # Authorization headers of chat requests
        self.arrivals: dict[str, list[float]] = {}
        self.inflight = 0
        self.max_inflight = 0
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler_class())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "FakeOpenAIServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
                      ctype: str = "application/json") -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    data = {"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]}
                    self._send(server.models_status, json.dumps(data if server.models_status == 200 else
                                                                {"error": {"message": "nope"}}).encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                digest = hashlib.sha256(raw).hexdigest()
                with server._lock:
                    server.calls += 1
                    server.auth.append(self.headers.get("Authorization", ""))
                    seen = len(server.arrivals.setdefault(digest, []))
                    server.arrivals[digest].append(time.monotonic())
                    server.inflight += 1
                    server.max_inflight = max(server.max_inflight, server.inflight)
                try:
                    status, body, headers = self._answer(raw, digest, seen)
                finally:
                    # Out of flight before the reply is sent: a client may send its next request the
                    # moment it has read this reply, and that one must not be counted beside it.
                    with server._lock:
                        server.inflight -= 1
                self._send(status, body, headers)

            def _answer(self, raw: bytes, digest: str, seen: int) -> tuple[int, bytes, dict[str, str] | None]:
                reply = server.handler(json.loads(raw), digest, seen)
                if reply is None and server.upstream:
                    req = urllib.request.Request(server.upstream + "/chat/completions", data=raw,
                                                 headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(req, timeout=300) as r:
                        return r.status, r.read(), None
                reply = reply or Reply(content="")
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                body = reply.body
                if body is None:
                    body = completion(reply.content)
                if isinstance(body, dict):
                    body = json.dumps(body)
                if isinstance(body, str):
                    body = body.encode()
                return reply.status, body, reply.headers

        return Handler


def last_user(req: dict) -> str:
    return [m["content"] for m in req["messages"] if m["role"] == "user"][-1]


# ------------------------------------------------------------------------ llama.cpp server
@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """Base URL of a real llama.cpp server (one per test session)."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python[server] is not installed (pip install '.[llamacpp]')")
    with start_llama_server() as url:
        yield url
