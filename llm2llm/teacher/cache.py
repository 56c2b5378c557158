"""One persistent cache for every teacher call: a SQLite file in WAL mode.

Every backend (OpenAI, an OpenAI-compatible server, the in-process model) looks a request up here
before generating, and stores the response right after, so a re-run or a resumed run repeats no
call. The key is a hash of everything that determines the answer: backend kind, model, messages,
sampling parameters and the sample index (never the API key, and not the base_url, so the same
model served from another host or port still hits).

Several processes (sweep jobs) may share one file: WAL lets readers run beside one writer, a
generous busy timeout makes concurrent writers queue instead of failing, and ``INSERT OR IGNORE``
keeps the first answer for a key (two jobs racing on the same request store the same kind of
thing; whichever lands first wins and both read it back from then on).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
)
"""


def cache_key(request: dict[str, Any]) -> str:
    """SHA-256 of the request's canonical JSON (sorted keys, no whitespace)."""
    blob = json.dumps({"v": SCHEMA_VERSION, **request}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class TeacherCache:
    """A key -> response store. Thread-safe within a process, safe across processes."""

    def __init__(self, path: str | Path, timeout_s: float = 120.0) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=timeout_s, check_same_thread=False,
                                     isolation_level=None)  # autocommit: every put is its own transaction
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; WAL never corrupts
        self._conn.execute(_SCHEMA)

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT text, finish_reason, prompt_tokens, completion_tokens FROM responses WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return {"text": row[0], "finish_reason": row[1], "prompt_tokens": row[2], "completion_tokens": row[3]}

    def get_many(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Look up many keys in one go (chunks of 500 to stay under SQLite's variable limit)."""
        out: dict[str, dict[str, Any]] = {}
        uniq = list(dict.fromkeys(keys))
        with self._lock:
            for i in range(0, len(uniq), 500):
                chunk = uniq[i:i + 500]
                q = ("SELECT key, text, finish_reason, prompt_tokens, completion_tokens FROM responses "
                     f"WHERE key IN ({','.join('?' * len(chunk))})")
                for k, text, fr, pt, ct in self._conn.execute(q, chunk):
                    out[k] = {"text": text, "finish_reason": fr, "prompt_tokens": pt, "completion_tokens": ct}
        return out

    def put(self, key: str, request: dict[str, Any], text: str, finish_reason: str | None,
            prompt_tokens: int, completion_tokens: int) -> None:
        row = (key, str(request.get("model", "")), json.dumps(request, sort_keys=True, ensure_ascii=False), text,
               finish_reason, int(prompt_tokens), int(completion_tokens), time.time())
        with self._lock:
            self._conn.execute("INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def summary(self) -> dict[str, Any]:
        """Entries and tokens stored, per model (for run reports)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens) FROM responses GROUP BY model"
            ).fetchall()
        return {m: {"entries": n, "prompt_tokens": p or 0, "completion_tokens": c or 0} for m, n, p, c in rows}

    def close(self) -> None:
        with self._lock:
            self._conn.close()
