"""W&B's public API, served from the offline runs on this disk (W&B's servers cannot be reached here).

An offline run's ``run-<id>.wandb`` file is W&B's own transaction log: a LevelDB-style log of
``wandb_internal_pb2.Record`` protobufs, the very records ``wandb sync`` uploads. Reading it back
gives what the W&B API would answer after syncing (config, summary, history, group, tags, state),
so the report's ``--wandb`` path is tested on what the harness really logged; the only fake part is
the API object that hands these records out. The log layout (32 KiB blocks, 7-byte record headers
of crc32, length and type; a 7-byte file header ``:W&B`` + magic 0xBEE1 + version 0) is W&B's
``datastore`` format.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any, Iterator

from wandb.proto import wandb_internal_pb2

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[wandb_internal_pb2.Record]:
    data = path.read_bytes()
    ident, magic, version = struct.unpack("<4sHB", data[:HEADER])
    assert (ident, magic, version) == (b":W&B", 0xBEE1, 0), f"{path}: not a W&B transaction log"
    pos, parts = HEADER, b""
    while pos + HEADER <= len(data):
        if BLOCK - pos % BLOCK < HEADER:  # a block's tail too short for a header is padding
            pos += BLOCK - pos % BLOCK
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        if kind == 0 and length == 0:
            break  # zero padding at the end of the file
        if pos + HEADER + length > len(data):
            break  # a record still being written
        chunk = data[pos + HEADER:pos + HEADER + length]
        pos += HEADER + length
        parts = chunk if kind in (FULL, FIRST) else parts + chunk
        if kind in (FULL, LAST):
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(parts)
            yield rec


def finished_records(path: Path, wait_s: float = 60.0) -> list[wandb_internal_pb2.Record]:
    """The records of a run's log once its ``exit`` record is on disk. ``run.finish()`` can return
    before W&B's service process has flushed the last records of an offline run (seen on a loaded
    machine: the history rows were missing), so a log without its exit record is read again."""
    deadline = time.monotonic() + wait_s
    while True:
        got = list(records(path))
        if any(r.WhichOneof("record_type") == "exit" for r in got) or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


class OfflineRun:
    """The attributes of ``wandb.apis.public.Run`` that the report reads."""

    def __init__(self, path: Path, project: str) -> None:
        self.config: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []
        self.group, self.tags, self.state, self.id = "", [], "running", ""
        for rec in finished_records(next(path.glob("run-*.wandb"))):
            kind = rec.WhichOneof("record_type")
            if kind == "run":
                self.id, self.group, self.tags = rec.run.run_id, rec.run.run_group, list(rec.run.tags)
                self._apply(self.config, rec.run.config.update)
            elif kind == "config":
                self._apply(self.config, rec.config.update)
            elif kind == "summary":
                self._apply(self.summary, rec.summary.update)
            elif kind == "history":
                row: dict[str, Any] = {}
                self._apply(row, rec.history.item)
                self.history.append(row)
            elif kind == "exit":
                self.state = "finished" if rec.exit.exit_code == 0 else "failed"
        self.path = f"{project}/{self.id}"

    @staticmethod
    def _apply(target: dict[str, Any], items: Any) -> None:
        for item in items:
            key = item.key or ".".join(item.nested_key)
            if key != "_wandb":
                target[key] = json.loads(item.value_json)

    def scan_history(self) -> list[dict[str, Any]]:
        return self.history


class OfflineApi:
    """``wandb.Api()`` over every offline run under ``wandb_dir``."""

    def __init__(self, wandb_dir: Path) -> None:
        self.wandb_dir = wandb_dir

    def runs(self, project: str, filters: dict[str, Any] | None = None) -> list[OfflineRun]:
        found = [OfflineRun(p, project) for p in sorted(self.wandb_dir.rglob("offline-run-*"))]
        group = (filters or {}).get("group")
        return [r for r in found if group is None or r.group == group]
