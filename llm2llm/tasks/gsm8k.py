"""GSM8K: grade-school maths; the target is a rationale ending in ``#### <number>``."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from llm2llm.errors import DataError
from llm2llm.example import Example, read_jsonl
from llm2llm.tasks.base import Task, require_fields

# A number as written in answers: optional sign, digits with optional thousands commas, decimals.
_NUMBER = re.compile(r"[-+]?\$?\s*(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+")


def canonical_number(text: str) -> str | None:
    """'1,000' -> '1000', '-3.50' -> '-3.5', '$7' -> '7', '2.0' -> '2'; None if not a number."""
    m = _NUMBER.search(text)
    if not m:
        return None
    raw = m.group(0).replace(",", "").replace("$", "").replace(" ", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    if value == value.to_integral_value():
        return str(int(value))  # exact at any size (quantize fails beyond 28 digits)
    return format(value.normalize(), "f")


def final_answer(text: str) -> str | None:
    """The number after the last ``####`` marker, canonicalised; trailing text is ignored."""
    if "####" not in text:
        return None
    return canonical_number(text.rsplit("####", 1)[1])


class GSM8K(Task):
    name = "gsm8k"
    local_subdir = "gsm8k"
    default_hub_id = "openai/gsm8k"
    default_hub_config = "main"
    teacher_template = "gsm8k"

    def _load_local(self, split: str) -> list[Example]:
        path = self.local_dir / f"{split}.jsonl"
        out = []
        for i, row in enumerate(read_jsonl(path)):
            out.append(self._row(row, i, split, f"{path}:{i + 1}"))
        return out

    def _from_hub_row(self, row: dict[str, Any], index: int, split: str, features: Any) -> Example:
        return self._row(row, index, split, f"{self.hub_id}[{split}][{index}]")

    def _row(self, row: dict[str, Any], index: int, split: str, where: str) -> Example:
        require_fields(row, ("question", "answer"), where)
        if final_answer(row["answer"]) is None:
            raise DataError(f"{where}: answer has no '#### <number>' final answer")
        return Example(id=f"gsm8k-{split}-{index}", text=row["question"], answer=row["answer"], meta={"source": where})

    def prompt(self, ex: Example) -> str:
        return (
            "Solve the math word problem. Show your calculation step by step, then give the final "
            f"numeric answer on its own line as '#### <number>'.\n\nQuestion: {ex.text}"
        )

    def parse(self, output: str) -> str | None:
        return final_answer(output)

    def gold(self, ex: Example) -> str | None:
        return final_answer(ex.answer)
