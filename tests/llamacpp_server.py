"""A real local teacher endpoint: llama.cpp's OpenAI-compatible server with the embedded SmolLM2.

    with start_llama_server() as base_url:   # http://127.0.0.1:<free port>/v1
        ... teacher=llamacpp teacher.base_url=<base_url> ...

Used by the tests and benchmarks that exercise the OpenAI client path against a real server; a test
helper, so it lives under tests/ (benchmarks put tests/ on ``sys.path`` to import it).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from llm2llm.student.distributed import free_port


@contextmanager
def start_llama_server(n_threads: int = 2) -> Iterator[str]:
    """Run a real llama.cpp OpenAI-compatible server with the embedded SmolLM2 GGUF on a free
    loopback port; yields its base URL (…/v1) and stops it by PID on exit."""
    from llm2llm.models import embedded_gguf

    gguf = embedded_gguf("smollm2-135m-instruct")
    port = free_port()
    log = open(Path(tempfile.gettempdir()) / f"llama_server_{port}.log", "w")
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2-135m-instruct",
           "--host", "127.0.0.1", "--port", str(port), "--n_threads", str(n_threads), "--n_ctx", "2048",
           "--verbose", "false"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(url + "/models", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"llama.cpp server not ready after 60 s; see {log.name}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
