"""CaseHOLD: pick the holding (of five) that a court-opinion excerpt cites."""

from __future__ import annotations

import re
from typing import Any

from llm2llm.errors import DataError
from llm2llm.example import Example, read_jsonl
from llm2llm.tasks.base import Task, require_fields

LETTERS = ("A", "B", "C", "D", "E")


class CaseHOLD(Task):
    """Answers are the index of the correct holding ("0".."4"); the student writes its letter (A-E).

    Local data: ../shared/data holds only a 1,000-row slice of the LexGLUE test split
    (``casehold/test_subset_1000.jsonl``). We split it by ``idx``: the first ``task.local_train_rows``
    rows (default 500) are "train", the rest "test". On a connected machine the hub's
    ``coastalcph/lex_glue`` / ``case_hold`` train and test splits are used instead.
    """

    name = "casehold"
    local_subdir = "casehold"
    default_hub_id = "coastalcph/lex_glue"
    default_hub_config = "case_hold"
    labels = tuple(str(i) for i in range(5))
    teacher_template = "casehold"
    student_template = "student_casehold"

    def _load_local(self, split: str) -> list[Example]:
        path = self.local_dir / "test_subset_1000.jsonl"
        cut = self.cfg.local_train_rows
        out = []
        for i, row in enumerate(read_jsonl(path)):
            where = f"{path}:{i + 1}"
            require_fields(row, ("idx", "context", "endings", "label"), where)
            if (i < cut) == (split == "train"):
                out.append(self._make(row["context"], row["endings"], row["label"], split, int(row["idx"]), where))
        return out

    def _from_hub_row(self, row: dict[str, Any], index: int, split: str, features: Any) -> Example:
        return self._make(row["context"], row["endings"], row["label"], split, index, f"{self.hub_id}[{split}][{index}]")

    def _make(self, context: str, endings: list[str], label: Any, split: str, index: int, where: str) -> Example:
        if not isinstance(endings, list) or len(endings) != 5:
            raise DataError(f"{where}: expected 5 candidate holdings in 'endings'")
        return Example(id=f"casehold-{split}-{index}", text=context, answer=str(label),
                       choices=tuple(endings), meta={"source": where})

    def check_example(self, ex: Example, where: str) -> None:
        super().check_example(ex, where)
        if not ex.choices or len(ex.choices) != 5:
            raise DataError(f"{where}: expected 5 candidate holdings")

    def prompt_values(self, ex: Example) -> dict[str, str]:
        options = "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(ex.choices or ()))
        return {**super().prompt_values(ex), "input_name": "Excerpt", "options": options}

    def target(self, ex: Example) -> str:
        return LETTERS[int(ex.answer)]

    def parse(self, output: str) -> str | None:
        m = re.match(r"\s*\(?([A-Ea-e0-4])\b", output)
        if not m:
            return None
        c = m.group(1).upper()
        return str(LETTERS.index(c)) if c in LETTERS else c
