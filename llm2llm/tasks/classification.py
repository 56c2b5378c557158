"""Single-label text classification: SST-2, TREC (6 coarse labels), SNIPS (7 intents), own JSONL."""

from __future__ import annotations

from typing import Any

from llm2llm.errors import ConfigError, DataError
from llm2llm.example import Example, read_jsonl
from llm2llm.tasks.base import Task, normalise_label_text, read_lines, require_fields


#: task.list_labels=auto names the labels in the prompt only up to this many (a 77-intent list is
#: ~500 tokens: it would crowd out the input and dominate the cost of every forward pass)
MAX_LISTED_LABELS = 20


class ClassificationTask(Task):
    """Prompt: an instruction (naming the labels where task.list_labels says so), then the input. Target: the label name."""

    instruction = "Classify the text."
    input_name = "Text"
    teacher_template = "classification"
    student_template = "student_classification"

    def lists_labels(self) -> bool:
        """Whether the prompt names every label (task.list_labels; auto: up to MAX_LISTED_LABELS)."""
        if self.labels is None:  # task=jsonl kind=qa
            return False
        setting = str(self.cfg.list_labels).lower()
        return len(self.labels) <= MAX_LISTED_LABELS if setting == "auto" else setting == "true"

    def prompt_values(self, ex: Example) -> dict[str, str]:
        return {**super().prompt_values(ex), "instruction": self.instruction, "input_name": self.input_name}

    def parse(self, output: str) -> str | None:
        """The label the output names, robust to case, punctuation and spacing.

        An exact (normalised) match of the first line wins; otherwise the one label mentioned in
        the first line ("Negative sentiment"); an output naming several labels is unparseable.
        """
        assert self.labels is not None
        lines = [l for l in output.strip().splitlines() if l.strip()]
        if not lines:
            return None
        first = normalise_label_text(lines[0])
        norm = {normalise_label_text(l): l for l in self.labels}
        if first in norm:
            return norm[first]
        words = f" {first} "
        mentioned = [l for n, l in norm.items() if f" {n} " in words]
        return mentioned[0] if len(mentioned) == 1 else None


class SST2(ClassificationTask):
    name = "sst2"
    local_subdir = "sst2"
    default_hub_id = "stanfordnlp/sst2"
    hub_splits = {"train": "train", "test": "validation"}  # GLUE test labels are hidden: evaluate on dev
    labels = ("negative", "positive")
    instruction = "What is the sentiment of this movie review sentence?"
    input_name = "Sentence"

    def _load_local(self, split: str) -> list[Example]:
        path = self.local_dir / ("train.tsv" if split == "train" else "dev.tsv")
        lines = read_lines(path)
        if not lines or lines[0].split("\t") != ["sentence", "label"]:
            raise DataError(f"{path}:1: expected the header 'sentence<TAB>label'")
        out = []
        for lineno, line in enumerate(lines[1:], start=2):
            parts = line.split("\t")
            if len(parts) != 2 or parts[1].strip() not in ("0", "1"):
                raise DataError(f"{path}:{lineno}: expected '<sentence><TAB><0|1>', got {line[:60]!r}")
            out.append(self._make(parts[0].strip(), int(parts[1]), split, lineno - 2, f"{path}:{lineno}"))
        return out

    def _from_hub_row(self, row: dict[str, Any], index: int, split: str, features: Any) -> Example:
        return self._make(row["sentence"].strip(), int(row["label"]), split, index, f"{self.hub_id}[{split}][{index}]")

    def _make(self, text: str, label: int, split: str, index: int, where: str) -> Example:
        return Example(id=f"sst2-{split}-{index}", text=text, answer=self.labels[label], meta={"source": where})


TREC_COARSE = {
    "ABBR": "abbreviation",
    "DESC": "description",
    "ENTY": "entity",
    "HUM": "human",
    "LOC": "location",
    "NUM": "number",
}


class TREC(ClassificationTask):
    name = "trec"
    local_subdir = "trec"
    default_hub_id = "CogComp/trec"
    labels = tuple(TREC_COARSE.values())
    instruction = "What kind of answer does this question ask for?"
    input_name = "Question"

    def _load_local(self, split: str) -> list[Example]:
        path = self.local_dir / ("train_5500.label" if split == "train" else "TREC_10.label")
        # train_5500.label has one stray 0xF0 byte ("sister\xf0city"); the HF loader replaces it with a space.
        lines = read_lines(path, fix=lambda b: b.replace(b"\xf0", b" "))
        out = []
        for lineno, line in enumerate(lines, start=1):
            label, _, text = line.partition(" ")
            coarse = label.split(":", 1)[0]
            if ":" not in label or not text.strip():
                raise DataError(f"{path}:{lineno}: expected 'COARSE:fine question text', got {line[:60]!r}")
            if coarse not in TREC_COARSE:
                raise DataError(f"{path}:{lineno}: coarse label {coarse!r} is not one of {sorted(TREC_COARSE)}")
            out.append(Example(id=f"trec-{split}-{lineno - 1}", text=text.strip(), answer=TREC_COARSE[coarse],
                               meta={"source": f"{path}:{lineno}", "fine": label}))
        return out

    def _from_hub_row(self, row: dict[str, Any], index: int, split: str, features: Any) -> Example:
        code = features["coarse_label"].int2str(row["coarse_label"])
        return Example(id=f"trec-{split}-{index}", text=row["text"].strip(), answer=TREC_COARSE[code],
                       meta={"source": f"{self.hub_id}[{split}][{index}]"})


class SNIPS(ClassificationTask):
    name = "snips"
    local_subdir = "snips"
    default_hub_id = "benayas/snips"
    labels = ("AddToPlaylist", "BookRestaurant", "GetWeather", "PlayMusic", "RateBook",
              "SearchCreativeWork", "SearchScreeningEvent")
    instruction = "What is the intent of this voice-assistant request?"
    input_name = "Request"

    def _load_local(self, split: str) -> list[Example]:
        folder = self.local_dir / split
        texts = read_lines(folder / "seq.in")
        intents = read_lines(folder / "label")
        if len(texts) != len(intents):
            raise DataError(f"{folder}: seq.in has {len(texts)} lines but label has {len(intents)}; they must align")
        return [Example(id=f"snips-{split}-{i}", text=t.strip(), answer=l.strip(),
                        meta={"source": f"{folder / 'label'}:{i + 1}"})
                for i, (t, l) in enumerate(zip(texts, intents))]

    def _from_hub_row(self, row: dict[str, Any], index: int, split: str, features: Any) -> Example:
        label = row["category"]
        return Example(id=f"snips-{split}-{index}", text=row["text"].strip(), answer=str(label),
                       meta={"source": f"{self.hub_id}[{split}][{index}]"})


class JsonlTask(ClassificationTask):
    """The user's own task from local JSONL files.

    ``task.kind=classification``: each row has ``text_field`` and ``answer_field`` (a label from
    ``task.labels``). ``task.kind=qa``: ``answer_field`` holds the gold output and
    ``task.answer_pattern`` (a regex with one group) extracts the final answer from it and from
    model outputs.
    """

    name = "jsonl"
    teacher_template = "classification"

    def __init__(self, cfg: Any, data_dir: str | None = None, eval_cfg: Any = None) -> None:
        super().__init__(cfg, data_dir, eval_cfg)
        import re

        self.kind = cfg.kind
        if self.kind not in ("classification", "qa"):
            raise ConfigError(f"task.kind must be 'classification' or 'qa', got {self.kind!r}")
        if not cfg.train_file or not cfg.test_file:
            raise ConfigError("task=jsonl needs task.train_file and task.test_file")
        if self.kind == "classification":
            self.labels = tuple(str(l) for l in cfg.labels) if cfg.labels else self._infer_labels()
        else:
            self.labels = None
            self.teacher_template = "qa"
            try:
                self.pattern = re.compile(cfg.answer_pattern)
            except re.error as e:
                raise ConfigError(f"task.answer_pattern is not a valid regex: {e}") from None
            if self.pattern.groups != 1:
                raise ConfigError("task.answer_pattern must have exactly one capture group (the final answer)")
        self.instruction = cfg.instruction or ("Classify the text." if self.kind == "classification" else "Answer the question.")
        self.input_name = "Input"

    def load(self, split: str) -> list[Example]:
        return self._load_local(split)

    def _infer_labels(self) -> tuple[str, ...]:
        """The label set when task.labels is not given: every label of the train file, sorted."""
        from pathlib import Path

        path = Path(self.cfg.train_file)
        labels = set()
        for i, row in enumerate(read_jsonl(path)):
            require_fields(row, (self.cfg.answer_field,), f"{path}:{i + 1}")
            labels.add(str(row[self.cfg.answer_field]).strip())
        if len(labels) < 2:
            raise DataError(f"{path}: found {len(labels)} distinct label(s) in field {self.cfg.answer_field!r}; a "
                            "classification task needs at least 2 (or set task.labels)")
        inferred = tuple(sorted(labels))
        shown = ", ".join(inferred[:10]) + (f", ... ({len(inferred)} in all)" if len(inferred) > 10 else "")
        print(f"task=jsonl: {len(inferred)} labels inferred from {path}: {shown}")
        return inferred

    def _load_local(self, split: str) -> list[Example]:
        from pathlib import Path

        path = Path(self.cfg.train_file if split == "train" else self.cfg.test_file)
        out = []
        for i, row in enumerate(read_jsonl(path)):
            where = f"{path}:{i + 1}"
            require_fields(row, (self.cfg.text_field, self.cfg.answer_field), where)
            ex = Example(id=f"jsonl-{split}-{i}", text=str(row[self.cfg.text_field]).strip(),
                         answer=str(row[self.cfg.answer_field]).strip(), meta={"source": where})
            self.check_example(ex, where)
            if self.kind == "qa" and self.parse(ex.answer) is None:
                raise DataError(f"{where}: answer does not match task.answer_pattern {self.cfg.answer_pattern!r}")
            out.append(ex)
        return out

    def parse(self, output: str) -> str | None:
        if self.kind == "classification":
            return super().parse(output)
        matches = self.pattern.findall(output)
        return matches[-1].strip() if matches else None

    def gold(self, ex: Example) -> str | None:
        return ex.answer if self.kind == "classification" else self.parse(ex.answer)
