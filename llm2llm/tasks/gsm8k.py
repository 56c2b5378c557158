"""GSM8K: grade-school maths; the target is a rationale ending in ``#### <number>``.

Two answer extractions, both recorded for every generated output (eval.extraction picks the one
that decides 'correct'):

- strict: the number after the *last* ``####`` marker, sign and decimals kept (``final_answer``).
- official: the public LLM2LLM code's (SqueezeAILab/LLM2LLM GSM8K/filter.py lines 5-14 and 44,
  report_results.py lines 23-32 and 52): the *first* ``#+ (.*)`` match, the rest of that line with
  every character but digits and '.' dropped, compared with the gold answer as floats (so a sign is
  lost and "5 then 6" reads as 56); when either side is not a float, a case-insensitive comparison
  without commas.

The official code searches the decoded prompt *plus* completion. Its own eval prompt holds no
``#+ `` match, so that equals searching the completion; the built-in prompt here asks for a
``'#### <number>'`` line and so holds one, which would be every output's first match (scoring 0).
Here the official extraction therefore reads the completion only: the same result for the
official prompt, and the meaningful one for ours.
"""

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


_OFFICIAL_MARKER = re.compile(r"#+ (.*)")
_OFFICIAL_GOLD = re.compile(r"#### (.*)", re.DOTALL)


def official_answer(text: str) -> str | None:
    """The public code's extraction: the rest of the line after the first '#+ ' (stripped); None without one."""
    m = _OFFICIAL_MARKER.search(text)
    return m.group(1).strip() if m else None


def _digits_and_dots(s: str) -> str:
    return "".join(c for c in s if c.isdigit() or c == ".")


def official_match(answer: str | None, gold: str) -> bool:
    """The public code's comparison: digits and '.' only, as floats; else lower-cased text without commas."""
    if answer is None:
        return False
    try:
        return float(_digits_and_dots(gold)) == float(_digits_and_dots(answer))
    except ValueError:
        return gold.lower().replace(",", "") == answer.lower().replace(",", "")


class GSM8K(Task):
    name = "gsm8k"
    local_subdir = "gsm8k"
    default_hub_id = "openai/gsm8k"
    default_hub_config = "main"
    teacher_template = "gsm8k"
    student_template = "student_gsm8k"

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

    def parse(self, output: str) -> str | None:
        return final_answer(output)

    def gold(self, ex: Example) -> str | None:
        return final_answer(ex.answer)

    def official_gold(self, ex: Example) -> str:
        """The gold answer as the public code reads it: everything after the first '#### '."""
        m = _OFFICIAL_GOLD.search(ex.answer)
        return m.group(1) if m else ""

    def judge(self, output: str, ex: Example) -> dict[str, tuple[str | None, bool]]:
        official = official_answer(output)
        return {**super().judge(output, ex), "official": (official, official_match(official, self.official_gold(ex)))}
