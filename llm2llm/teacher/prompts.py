"""Teacher prompt templates: editable YAML files rendered into chat messages.

A template file (``llm2llm/prompts/<name>.yaml``, or ``<teacher.template_dir>/<name>.yaml`` which
takes precedence) holds::

    system: |            # the system message (optional)
      ...
    shots:               # optional worked examples: user/assistant turns before the real request
      - user: ...
        assistant: ...
    user: |              # the request, with {placeholders}
      ...

Placeholders in ``system`` and ``user`` are Python ``str.format`` fields filled from the example
(``placeholders`` lists them); write a literal brace as ``{{`` or ``}}``. An unknown placeholder
fails with the file name. ``shots`` are literal text.

``{style_examples}`` expands to a few *other* seed examples of the parent's label (``style_examples``
picks them; teacher.style_examples sets how many), with its own heading, or to nothing: small
teachers copy the one example they are shown far less often when they see several.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable
from pathlib import Path

import yaml

from llm2llm.errors import ConfigError
from llm2llm.example import Example
from llm2llm.tasks.base import Task
from llm2llm.tasks.casehold import LETTERS
from llm2llm.teacher.output_format import output_format

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "prompts"


def style_examples(parent: Example, pool: Iterable[Example], n: int, seed: int) -> list[Example]:
    """Up to ``n`` seed examples other than ``parent`` with the parent's label, as style examples.

    Only original seeds are eligible (never a teacher's or EDA's example, never the parent or a
    copy of its text). The draw is seeded by ``seed`` and the parent's id and does not depend on
    the order of ``pool``, so a prompt (and hence its cache key) is the same on every re-run.
    """
    if n <= 0:
        return []
    by_id = {e.id: e for e in pool if e.is_seed and e.id != parent.id and e.answer == parent.answer
             and e.text.strip() != parent.text.strip()}
    candidates = [by_id[i] for i in sorted(by_id)]
    rng = random.Random(f"style:{seed}:{parent.id}")
    return rng.sample(candidates, min(n, len(candidates)))


def _style_block(task: Task, parent: Example, examples: list[Example]) -> str:
    if not examples:
        return ""
    name = getattr(task, "input_name", "Input")
    lines = "\n".join(f"{name}: {' '.join(e.text.split())}" for e in examples)
    return f'Other examples labelled "{parent.answer}" in this dataset:\n{lines}\n\n'


def placeholders(task: Task, ex: Example, style: list[Example] | None = None) -> dict[str, str]:
    """Every value a template may use for ``ex`` (same names for all tasks); ``style``: the
    examples ``{style_examples}`` shows (see ``style_examples``)."""
    input_name = output_format(task).input_name(task)
    values = {
        "task": task.name,
        "instruction": getattr(task, "instruction", ""),
        "input_name": input_name,
        "input_name_lower": input_name.lower(),
        "text": ex.text,
        "question": ex.text,
        "context": ex.text,
        "answer": ex.answer,
        "label": ex.answer,
        "labels": ", ".join(task.labels) if task.labels else "",
        "final_answer": str(task.gold(ex) or ""),
        "options": "",
        "answer_letter": "",
        "correct_holding": "",
        "style_examples": _style_block(task, ex, style or []),
    }
    if ex.choices:
        values["options"] = "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(ex.choices))
        if ex.answer.isdigit() and int(ex.answer) < len(ex.choices):
            values["answer_letter"] = LETTERS[int(ex.answer)]
            values["correct_holding"] = ex.choices[int(ex.answer)]
    return values


class PromptTemplate:
    def __init__(self, name: str, path: Path, system: str | None, user: str, shots: list[dict[str, str]]) -> None:
        self.name, self.path, self.system, self.user, self.shots = name, path, system, user, shots
        for field in self._fields():
            if field not in _KNOWN:
                raise ConfigError(f"{path}: unknown placeholder {{{field}}}; known: {sorted(_KNOWN)}")

    def _fields(self) -> set[str]:
        fields = set()
        for text in [self.system or "", self.user]:
            for _, field, _, _ in string.Formatter().parse(text):
                if field is not None:
                    fields.add(field.split(".")[0].split("[")[0])
        return fields

    @property
    def shows_style_examples(self) -> bool:
        return "style_examples" in self._fields()

    def render(self, values: dict[str, str]) -> list[dict[str, str]]:
        """Chat messages: system, the worked shots, then the request."""
        messages = []
        if self.system:
            messages.append({"role": "system", "content": self.system.format_map(values).strip()})
        for shot in self.shots:
            messages.append({"role": "user", "content": shot["user"].strip()})
            messages.append({"role": "assistant", "content": shot["assistant"].strip()})
        messages.append({"role": "user", "content": self.user.format_map(values).strip()})
        return messages


_KNOWN = {"task", "instruction", "input_name", "input_name_lower", "text", "question", "context", "answer",
          "label", "labels", "final_answer", "options", "answer_letter", "correct_holding", "style_examples"}


def load_template(name: str, template_dir: str | None = None) -> PromptTemplate:
    """``<template_dir>/<name>.yaml`` if it exists, else the built-in one."""
    candidates = ([Path(template_dir).expanduser() / f"{name}.yaml"] if template_dir else []) + [BUILTIN_DIR / f"{name}.yaml"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise ConfigError(f"no prompt template {name!r}: looked for {', '.join(str(p) for p in candidates)}")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("user"), str):
        raise ConfigError(f"{path}: a prompt template needs a 'user' string (and optionally 'system', 'shots')")
    unknown = set(doc) - {"system", "user", "shots", "description"}
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; expected system, shots, user")
    shots = doc.get("shots") or []
    if not isinstance(shots, list) or not all(isinstance(s, dict) and {"user", "assistant"} <= set(s) for s in shots):
        raise ConfigError(f"{path}: 'shots' must be a list of {{user: ..., assistant: ...}}")
    return PromptTemplate(name, path, doc.get("system"), doc["user"], shots)
