"""The Task seam: where data comes from, how an example is shown to a model, how output is scored."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, Iterable

from llm2llm.config import EvalConfig, TaskConfig
from llm2llm.errors import ConfigError, DataError
from llm2llm.example import Example
from llm2llm.tasks.prompting import StudentTemplate, builtin_path, load_student_template

SPLITS = ("train", "test")


class Task(ABC):
    """A dataset plus the rules for prompting, parsing and scoring it.

    Subclasses set ``name``, ``local_subdir`` and ``student_template`` and implement
    ``_load_local``/``_from_hub_row`` and ``parse``. ``labels`` is the label set for
    classification-style tasks (the strings a prediction can take) and ``None`` for free-form
    answers (GSM8K). The student's prompts are template files (llm2llm/tasks/prompting.py), one for
    training and one for evaluation (the same file unless ``task.eval_prompt`` is set); ``eval``
    holds the evaluation settings (the eval config group).
    """

    name: str = ""
    local_subdir: str = ""
    default_hub_id: str | None = None
    default_hub_config: str | None = None
    hub_splits: dict[str, str] = {"train": "train", "test": "test"}
    labels: tuple[str, ...] | None = None
    #: teacher prompt template file under llm2llm/prompts/ (see llm2llm.teacher)
    teacher_template: str = ""
    #: built-in student prompt template under llm2llm/prompts/ (task.train_prompt / eval_prompt replace it)
    student_template: str = ""

    def __init__(self, cfg: TaskConfig, data_dir: str | None = None, eval_cfg: EvalConfig | None = None) -> None:
        self.cfg = cfg
        self.eval = eval_cfg if eval_cfg is not None else EvalConfig()
        train = cfg.train_prompt or builtin_path(self.student_template)
        self.templates: dict[str, StudentTemplate] = {"train": load_student_template(train)}
        self.templates["eval"] = load_student_template(cfg.eval_prompt) if cfg.eval_prompt else self.templates["train"]
        self.local_dir: Path | None = None
        if cfg.local_dir:
            self.local_dir = Path(cfg.local_dir)
        elif data_dir:
            self.local_dir = Path(data_dir) / self.local_subdir
        self.hub_id = cfg.hub_id or self.default_hub_id
        self.hub_config = cfg.hub_config or self.default_hub_config

    # ------------------------------------------------------------------ data
    def load(self, split: str) -> list[Example]:
        """Return every example of ``split`` ("train" or "test"), validated against the label set."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        if self.local_dir is not None:
            if not self.local_dir.is_dir():
                raise DataError(f"{self.local_dir}: data directory for task {self.name!r} not found")
            examples = self._load_local(split)
        else:
            examples = self._load_hub(split)
        for ex in examples:
            self.check_example(ex, where=ex.meta.get("source", split))
        return examples

    @abstractmethod
    def _load_local(self, split: str) -> list[Example]: ...

    def _from_hub_row(self, row: dict[str, Any], index: int, split: str, features: Any) -> Example:
        raise NotImplementedError

    def _load_hub(self, split: str) -> list[Example]:
        if not self.hub_id:
            raise ConfigError(f"task {self.name!r} has no local data (set data_dir or task.local_dir) and no task.hub_id")
        import datasets

        hub_split = self.hub_splits[split]
        try:
            ds = datasets.load_dataset(self.hub_id, self.hub_config, split=hub_split)
        except Exception as e:  # offline, unknown id, gated dataset...
            raise DataError(
                f"could not load {self.hub_id} ({self.hub_config or 'default'}) split {hub_split!r} from the "
                f"Hugging Face hub: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}. "
                "Offline? Point the task at local files with data_dir=/path/to/data (or LLM2LLM_DATA_DIR)."
            ) from None
        return [self._from_hub_row(row, i, split, ds.features) for i, row in enumerate(ds)]

    def check_example(self, ex: Example, where: str) -> None:
        """Raise DataError if an example cannot be scored (empty text, label outside the label set)."""
        if not ex.text.strip():
            raise DataError(f"{where}: empty input text")
        if self.labels is not None and ex.answer not in self.labels:
            raise DataError(f"{where}: label {ex.answer!r} is not in the label set {list(self.labels)}")

    # ------------------------------------------------------------- rendering
    def prompt_values(self, ex: Example) -> dict[str, str]:
        """What a student template's placeholders are filled with (llm2llm.tasks.prompting.FIELDS)."""
        return {"task": self.name, "text": ex.text, "question": ex.text, "context": ex.text, "instruction": "",
                "input_name": "Input", "labels": ", ".join(self.labels or ()), "options": ""}

    def lists_labels(self) -> bool:
        """Whether the prompt uses the template's label-naming variant (classification tasks decide)."""
        return False

    def prompt(self, ex: Example, stage: str = "train") -> str:
        """The user message the student sees in training (``stage="train"``) or evaluation (``"eval"``)."""
        return self.templates[stage].render(self.prompt_values(ex), self.lists_labels())

    def plain_prompt(self, prompt: str, stage: str = "train") -> str:
        """The whole text before the answer for a tokenizer without a chat template."""
        return self.templates[stage].wrap_plain(prompt)

    def labels_in_prompt(self, stage: str = "eval") -> bool:
        """Whether the student's prompt names the answer choices."""
        return self.labels is not None and self.templates[stage].names_labels(self.lists_labels())

    def target(self, ex: Example) -> str:
        """The assistant message the student is trained to produce."""
        return ex.answer

    def label_targets(self, ex: Example) -> list[str] | None:
        """For label scoring: the target text of each label, in ``labels`` order (None: free-form)."""
        if self.labels is None:
            return None
        return [self.target(ex.derive(answer=label)) for label in self.labels]

    # --------------------------------------------------------------- scoring
    @abstractmethod
    def parse(self, output: str) -> str | None:
        """Turn a model's raw output into a prediction (None when nothing can be parsed)."""

    def gold(self, ex: Example) -> str | None:
        """The prediction that counts as correct for ``ex``."""
        return ex.answer

    def is_correct(self, prediction: str | None, ex: Example) -> bool:
        return prediction is not None and prediction == self.gold(ex)

    def judge(self, output: str, ex: Example) -> dict[str, tuple[str | None, bool]]:
        """(prediction, correct) of a generated output under each answer extraction the task has
        (``strict`` always; GSM8K adds ``official``)."""
        p = self.parse(output)
        return {"strict": (p, self.is_correct(p, ex))}

    # ------------------------------------------------------------ evaluation
    @property
    def max_new_tokens(self) -> int:
        """The answer budget: eval.max_new_tokens, or the task's own task.max_new_tokens."""
        budget = getattr(self.eval, "max_new_tokens", None)
        return int(budget if budget is not None else self.cfg.max_new_tokens)

    def eval_mode(self) -> tuple[str, str]:
        """How the student is evaluated, ``generate`` or ``score``, and why (eval.mode; auto decides here)."""
        mode = str(getattr(self.eval.mode, "value", self.eval.mode))
        if mode not in ("auto", "generate", "score"):
            raise ConfigError(f"eval.mode: auto | generate | score, got {mode!r}")
        if mode == "score" and self.labels is None:
            raise ConfigError(f"eval.mode=score needs a task with a label set; {self.name} is free-form "
                              "(use eval.mode=generate or auto)")
        if mode != "auto":
            return mode, f"eval.mode={mode}"
        if self.labels is None:
            return "generate", "eval.mode=auto: free-form answers"
        if self.labels_in_prompt("eval"):
            return "generate", f"eval.mode=auto: the eval prompt names the {len(self.labels)} labels"
        return "score", f"eval.mode=auto: the eval prompt does not name the {len(self.labels)} labels"


def normalise_label_text(s: str) -> str:
    """Lower-case, drop punctuation and collapse whitespace: 'Positive.' -> 'positive'."""
    return " ".join(re.sub(r"[^\w\s]", " ", s.lower()).split())


def read_lines(path: Path, encoding: str = "utf-8", fix: Callable[[bytes], bytes] | None = None) -> list[str]:
    """Read a text file line by line, naming the file and line on a decoding error."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark
        raw = raw[3:]
    if fix is not None:
        raw = fix(raw)
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for lineno, line in enumerate(lines, start=1):
        try:
            out.append(line.decode(encoding).rstrip("\r"))
        except UnicodeDecodeError as e:
            raise DataError(f"{path}:{lineno}: not valid {encoding} at column {e.start + 1} ({e.reason})") from None
    return out


def require_fields(row: dict[str, Any], fields: Iterable[str], where: str) -> None:
    missing = [f for f in fields if f not in row]
    if missing:
        raise DataError(f"{where}: missing field(s) {missing}; found {sorted(row)}")
