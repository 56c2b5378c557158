"""Student prompt templates: the text the student is trained on and evaluated with, as data.

A template file (YAML) holds::

    prompt: |-               # the user message, with {placeholders}
      ...
    prompt_with_labels: |-   # optional: used instead of `prompt` when the task names its labels
      ...                    #   (task.list_labels; classification tasks only)
    plain: "{prompt}\\n\\nAnswer:"   # optional: the whole text before the answer for a tokenizer without
                             #   a chat template ({prompt} = the rendered prompt); this is the default

A chat model sees the rendered prompt as its user turn (its chat template adds the rest); a base
model (no chat template) sees ``plain``. Placeholders are ``str.format`` fields filled from the
example (``FIELDS``); write a literal brace as ``{{`` or ``}}``. An unknown placeholder or key fails
at start-up with the file name. The built-in templates are ``llm2llm/prompts/student_*.yaml``;
``task.train_prompt`` / ``task.eval_prompt`` point at your own files (see docs/fidelity.md for where
the public LLM2LLM code's prompts are).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import yaml

from llm2llm.errors import ConfigError

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "prompts"

#: the placeholders a student template may use
FIELDS = {
    "task": "the task's name",
    "text": "the example's input (a GSM8K question, a sentence, a CaseHOLD excerpt)",
    "question": "the same as text",
    "context": "the same as text",
    "instruction": "the task's instruction (classification tasks, task=jsonl)",
    "input_name": "what the task calls its input ('Sentence', 'Question', ...)",
    "labels": "the label names, comma-separated",
    "options": "CaseHOLD: the five candidate holdings, 'A. ...' one per line",
}
#: placeholders that name the answer choices: a prompt using one shows the student its labels
LABEL_FIELDS = {"labels", "options"}
DEFAULT_PLAIN = "{prompt}\n\nAnswer:"
_KEYS = {"description", "prompt", "prompt_with_labels", "plain"}


def _fields(text: str) -> set[str]:
    return {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(text) if f is not None}


@dataclass(frozen=True)
class StudentTemplate:
    """One loaded template file; ``render`` fills it for an example."""

    path: Path
    prompt: str
    prompt_with_labels: str | None
    plain: str

    def pick(self, list_labels: bool) -> str:
        """The prompt text used: ``prompt_with_labels`` when the task lists its labels and the file has one."""
        return self.prompt_with_labels if list_labels and self.prompt_with_labels is not None else self.prompt

    def render(self, values: dict[str, str], list_labels: bool) -> str:
        return self.pick(list_labels).format_map(values)

    def names_labels(self, list_labels: bool) -> bool:
        """Whether the prompt shown to the student names the answer choices ({labels} or {options})."""
        return bool(_fields(self.pick(list_labels)) & LABEL_FIELDS)

    def wrap_plain(self, prompt: str) -> str:
        """The text before the answer for a tokenizer without a chat template."""
        return self.plain.replace("{prompt}", prompt)


def builtin_path(name: str) -> Path:
    return BUILTIN_DIR / f"{name}.yaml"


def load_student_template(path: str | Path) -> StudentTemplate:
    """Load and check a template file: one ConfigError naming the file for anything wrong."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"{path}: student prompt template not found")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("prompt"), str):
        raise ConfigError(f"{path}: a student prompt template needs a 'prompt' string (see llm2llm/tasks/prompting.py)")
    unknown = set(doc) - _KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; expected {sorted(_KEYS - {'description'})}")
    for key in ("prompt_with_labels", "plain"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise ConfigError(f"{path}: '{key}' must be a string")
    for key in ("prompt", "prompt_with_labels"):
        if doc.get(key) is None:
            continue
        try:
            bad = _fields(doc[key]) - set(FIELDS)
        except ValueError as e:  # a lone '{' or '}'
            raise ConfigError(f"{path}: '{key}' is not a valid template ({e}); write a literal brace as {{{{ or }}}}") from None
        if bad:
            raise ConfigError(f"{path}: unknown placeholder(s) {sorted(bad)} in '{key}'; known: {sorted(FIELDS)}")
    plain = doc.get("plain") or DEFAULT_PLAIN
    if "{prompt}" not in plain:
        raise ConfigError(f"{path}: 'plain' must contain {{prompt}}")
    return StudentTemplate(path, doc["prompt"], doc.get("prompt_with_labels"), plain)
