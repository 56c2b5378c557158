"""The one record type that flows through the harness, with its provenance."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from llm2llm.errors import DataError

ORIGINS: tuple[str, ...] = ("seed", "teacher", "eda", "auggpt", "pool")


@dataclass(frozen=True)
class Example:
    """One labelled example and where it came from.

    ``text`` is the task input (a question, a sentence, a legal context); ``answer`` is the gold
    output in the task's own format (a GSM8K rationale ending in ``#### N``, a label name, or a
    CaseHOLD option index as a string). ``choices`` holds multiple-choice options (CaseHOLD).
    Provenance: ``origin`` says who wrote it, ``parent_id`` which seed it was derived from,
    ``iteration`` in which LLM2LLM iteration it was added, ``teacher_model`` which model wrote it.
    """

    id: str
    text: str
    answer: str
    choices: tuple[str, ...] | None = None
    origin: str = "seed"
    parent_id: str | None = None
    iteration: int = 0
    teacher_model: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.origin not in ORIGINS:
            raise ValueError(f"unknown origin {self.origin!r}; expected one of {ORIGINS}")
        if self.choices is not None and not isinstance(self.choices, tuple):
            object.__setattr__(self, "choices", tuple(self.choices))

    @property
    def is_seed(self) -> bool:
        return self.origin == "seed"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["choices"] is not None:
            d["choices"] = list(d["choices"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Example":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise KeyError(f"unknown field(s) {sorted(unknown)}")
        return cls(**d)

    def derive(self, **changes: Any) -> "Example":
        return dataclasses.replace(self, **changes)


def text_sha1(text: str) -> str:
    """A text's short fingerprint (the first 16 hex digits of its SHA-1): equal texts give equal values,
    so kept run records (scripts/keep_runs.py) can tell which examples are the same without the text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def dumps_jsonl(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)


def write_examples(path: str | os.PathLike, examples: Iterable[Example]) -> None:
    """Write examples as JSONL (one record per line, keys sorted: byte-for-byte reproducible)."""
    atomic_write_text(path, dumps_jsonl(e.to_dict() for e in examples))


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSONL file. A missing file, bad UTF-8, a
    malformed line or a line that is not a JSON object raises a DataError naming the file (and line)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with open(path, encoding="utf-8-sig") as f:  # a byte-order mark (Windows editors) is fine
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{lineno}: malformed JSON ({e.msg}); expected one JSON object per line") from None
                if not isinstance(row, dict):
                    raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
                yield lineno, row
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not valid UTF-8 at byte {e.start} ({e.reason})") from None


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every object of a JSONL file (the harness's one JSONL reader; errors as :func:`iter_jsonl`)."""
    return [row for _, row in iter_jsonl(path)]


def read_examples(path: str | os.PathLike) -> list[Example]:
    out = []
    for lineno, row in iter_jsonl(path):
        try:
            out.append(Example.from_dict(row))
        except (TypeError, KeyError, ValueError) as e:
            raise DataError(f"{path}:{lineno}: not an Example record ({e})") from None
    return out
