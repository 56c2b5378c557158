"""One persistent cache for every teacher call, safe to share across jobs, nodes and network filesystems.

Every backend (OpenAI, an OpenAI-compatible server, the in-process model) looks a request up here
before generating and stores the response right after, so a re-run or a resumed run repeats no
call. The key is a hash of everything that determines the answer (see ``cache_key`` and
llm2llm/teacher/core.py: backend kind, model, messages, sampling parameters, run seed, iteration,
parent example, sample index; never the API key, and not the base_url, so the same model served
from another host or port still hits).

Layout: a directory of append-only JSONL shards, one per writing process
(``shard-<host>-<pid>-<random>.jsonl``). Why not SQLite: SLURM clusters share home and project
directories over NFS or Lustre, where SQLite's WAL mode is not supported and its file locks are
unreliable, so concurrent jobs could corrupt one database file. Here no two processes ever write
the same file, so no lock is needed on any filesystem; every line is written whole and fsync'ed
as soon as an answer arrives (a killed job loses nothing it was told), and a torn last line of a
killed writer is ignored. Readers load every shard when they open the cache and read what other
jobs have appended since whenever a lookup misses. If two jobs race on the same request, both
answers are stored and every reader uses the one written first (earliest timestamp, then shard
name): a job that has just generated re-reads the shards before using its own answer, so racing
jobs agree from then on. Reading opens each shard afresh rather than trusting a cached size, since
NFS clients cache file attributes for seconds but revalidate on open (close-to-open consistency);
a new shard another node created moments ago may still be missing from a cached directory listing,
which at worst costs one repeated call, never a wrong answer. In memory only the answers are kept
(not the requests), so a large shared cache stays cheap to hold. A file at ``teacher.cache_path``
(a SQLite cache, whose keys lack the run seed, iteration and parent) cannot answer these requests
and is refused with a clear message rather than silently ignored.

What jobs share, deliberately, follows from the key (see llm2llm/teacher/core.py): jobs with the
same run seed asking the same teacher config and prompt about the same parent at the same
iteration and sample index share one answer; different run seeds or iterations never do.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any

from llm2llm.errors import ConfigError

SCHEMA_VERSION = 1

Entry = dict[str, Any]


def cache_key(request: dict[str, Any]) -> str:
    """SHA-256 of the request's canonical JSON (sorted keys, no whitespace)."""
    blob = json.dumps({"v": SCHEMA_VERSION, **request}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _answer(e: Entry) -> dict[str, Any]:
    return {k: e[k] for k in ("text", "finish_reason", "prompt_tokens", "completion_tokens")}


class TeacherCache:
    """A key -> response store. Thread-safe within a process, safe across processes and hosts."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path).expanduser()
        if path.is_file():
            raise ConfigError(f"teacher.cache_path: {path} is a file (a SQLite teacher cache, whose "
                              "keys lack the run seed, iteration and parent); point it at a directory, e.g. "
                              f"{path.with_suffix('')}_shards")
        self.path = path
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[tuple[float, str], dict[str, Any]]] = {}  # key -> (order, answer)
        self._offsets: dict[str, int] = {}
        self._shard_name = f"shard-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._shard: IO[str] | None = None
        self._refresh()

    # ------------------------------------------------------------------ reading
    def _offer(self, key: str, order: tuple[float, str], entry: Entry) -> None:
        """Keep the answer written first (every reader applies the same rule, so all agree)."""
        old = self._entries.get(key)
        if old is None or order < old[0]:
            self._entries[key] = (order, _answer(entry))

    def _refresh(self) -> None:
        """Read what every shard has gained since the last look (whole lines only)."""
        for shard in sorted(self.path.glob("shard-*.jsonl")):
            name = shard.name
            start = self._offsets.get(name, 0)
            try:
                with open(shard, "rb") as f:  # open, not stat: NFS revalidates a file's size on open
                    f.seek(start)
                    data = f.read()
            except FileNotFoundError:
                continue
            if not data:
                continue
            end = data.rfind(b"\n") + 1  # a line still being written (or torn by a kill) waits
            for line in data[:end].splitlines():
                try:
                    e = json.loads(line)
                    self._offer(e["key"], (float(e["created"]), name), e)
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # a damaged line is skipped, never fatal
            self._offsets[name] = start + end

    def get(self, key: str) -> dict[str, Any] | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: list[str], refresh: bool = False) -> dict[str, dict[str, Any]]:
        """The stored answers of ``keys`` (those that have one). The shards are re-read when a key is
        missing, or always with ``refresh`` (after generating: another job may have answered first)."""
        with self._lock:
            if refresh or any(k not in self._entries for k in keys):
                self._refresh()  # another job may have answered since
            return {k: dict(self._entries[k][1]) for k in dict.fromkeys(keys) if k in self._entries}

    # ------------------------------------------------------------------ writing
    def put(self, key: str, request: dict[str, Any], text: str, finish_reason: str | None,
            prompt_tokens: int, completion_tokens: int) -> None:
        entry = {"key": key, "model": str(request.get("model", "")), "request": request, "text": text,
                 "finish_reason": finish_reason, "prompt_tokens": int(prompt_tokens),
                 "completion_tokens": int(completion_tokens), "created": time.time()}
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
        with self._lock:
            if self._shard is None:
                self._shard = open(self.path / self._shard_name, "a", encoding="utf-8")
            self._shard.write(line)
            self._shard.flush()
            os.fsync(self._shard.fileno())
            self._offer(key, (entry["created"], self._shard_name), entry)

    def __len__(self) -> int:
        with self._lock:
            self._refresh()
            return len(self._entries)

    def close(self) -> None:
        with self._lock:
            if self._shard is not None:
                self._shard.close()
                self._shard = None
