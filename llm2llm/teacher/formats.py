"""What every teacher-reply parser shares: the rejection, the parsed fields, and the checks.

A parser (one per template, in llm2llm/teacher/output_format.py) takes the teacher's raw reply and
the parent example and returns the new example's fields (``Parsed``) or raises ``Rejected(reason)``;
the reason strings are what the run's ``stats["rejected"]`` counts. The helpers here split a reply
into ``Name:`` sections, check a new text (not empty, not too long, not an echo of the parent or of
the prompt), and check GSM8K arithmetic (``#### N`` final answers, ``<<a*b=c>>`` annotations).
"""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable

from llm2llm.example import Example
from llm2llm.tasks.base import normalise_label_text
from llm2llm.tasks.gsm8k import canonical_number

MAX_TEXT_CHARS = 4000


class Rejected(Exception):
    """A teacher output that is not a usable example; ``reason`` is a short, countable slug."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Parsed:
    text: str
    answer: str
    choices: tuple[str, ...] | None = None


# --------------------------------------------------------------------------------- helpers
_HEADER = r"^[ \t]*(?:\d{1,2}[.)][ \t]*)?(?:\*\*)?(%s)(?:\*\*)?[ \t]*:(?:\*\*)?[ \t]*"


def sections(output: str, names: tuple[str, ...]) -> list[tuple[str, str]]:
    """Split ``output`` at lines starting with ``Name:`` (case-insensitive, optional '1.' or bold).

    Returns (lower-cased name, body) pairs in order; text before the first header is dropped.
    """
    pattern = re.compile(_HEADER % "|".join(re.escape(n) for n in names), re.IGNORECASE | re.MULTILINE)
    marks = list(pattern.finditer(output))
    out = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(output)
        out.append((m.group(1).lower(), output[m.end():end].strip()))
    return out


def strip_quotes(s: str) -> str:
    s = s.strip()
    while len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'`":
        s = s[1:-1].strip()
    return s


def check_text(text: str, parent: Example, limit: int) -> str:
    """``text`` without surrounding quotes, or Rejected (empty, longer than ``limit`` characters, the
    parent's text again, or the prompt's format instead of a new text)."""
    text = strip_quotes(text)
    if not text:
        raise Rejected("empty")
    if len(text) > limit:
        raise Rejected("too_long", f"{len(text)} > {limit} characters")
    if normalise_label_text(text) == normalise_label_text(parent.text):
        raise Rejected("echo", "repeats the parent example")
    if _TEMPLATE_ECHO.search(text):
        raise Rejected("template_echo", "repeats the prompt's <placeholder>")
    if is_self_description(text):
        raise Rejected("template_echo", "names what it should write ('the new sentence') instead of writing it")
    return text


# "<the new sentence>", "<QUESTION>", "[ANSWER]": the reply format copied instead of filled in
_TEMPLATE_ECHO = re.compile(r"<the (?:new|rephrased)\b[^<>]*>|^\s*<[^<>]+>\s*$|\[(?:QUESTION|ANSWER|CALCULATION)\]")

#: what a classification template calls the input (besides the task's own input_name)
INPUT_NAMES = ("input", "text", "sentence", "question", "request", "review", "utterance")
# "The new sentence", "This question.", "[new sentence]": the reply's description, not a reply (small
# teachers write these; without this check the first is kept and each later one rejected as a duplicate)
_SELF_DESCRIPTION = re.compile(r"(?:(?:the|a|an|this|that|my|your|our|new|rephrased|another|same|example)\s+)*"
                               r"(?:%s|example|one)s?" % "|".join(INPUT_NAMES))


def is_label_name(text: str, labels: Iterable[str]) -> bool:
    """Whether ``text`` is just one of ``labels`` (case, quotes and punctuation aside)."""
    return normalise_label_text(strip_quotes(text)) in {normalise_label_text(label) for label in labels}


def is_self_description(text: str) -> bool:
    """Whether ``text`` only names the kind of thing it should be ("the new sentence")."""
    return bool(_SELF_DESCRIPTION.fullmatch(normalise_label_text(text)))


def max_chars(parent: Example, factor: int = 4, floor: int = 400) -> int:
    """The longest new text accepted for ``parent``: ``factor`` times its length, at least ``floor``,
    at most ``MAX_TEXT_CHARS``."""
    return min(MAX_TEXT_CHARS, max(factor * len(parent.text), floor))


# --------------------------------------------------------------------------------- GSM8K
_FINAL_LINE = re.compile(r"^[ \t]*[-+]?\$?[ \t]*(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?[ \t]*\.?[ \t]*$")


def split_rationale(answer: str) -> tuple[str, str]:
    """'calc...\\n#### 72 (trailing)' -> ('calc...', '72'); exactly one numeric final answer or Rejected."""
    n = answer.count("####")
    if n == 0:
        raise Rejected("no_final_answer", "no '####' marker")
    if n > 1:
        raise Rejected("multiple_final_answers", f"{n} '####' markers")
    rationale, final = answer.split("####", 1)
    final_line = final.strip().splitlines()[0] if final.strip() else ""
    number = canonical_number(final_line)
    if number is None or not _FINAL_LINE.match(final_line):
        raise Rejected("bad_final_answer", f"'#### {final_line[:40]}' is not a single number")
    return rationale.strip(), number


def question_answer(output: str, parent: Example) -> tuple[str, str]:
    """The first 'Question: ...' section and the 'Answer: ...' right after it (question checked)."""
    secs = sections(output, ("question", "answer"))
    names = [n for n, _ in secs]
    if "question" not in names:
        raise Rejected("no_question")
    qi = names.index("question")
    if qi + 1 >= len(secs) or names[qi + 1] != "answer":
        raise Rejected("no_answer")
    return check_text(secs[qi][1], parent, max_chars(parent)), secs[qi + 1][1]


# Safe arithmetic for <<a*b=c>> calculator annotations: numbers and + - * / // % ** only.
_OPS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.USub: operator.neg, ast.UAdd: operator.pos,
}


def safe_arith(expr: str) -> float:
    """Evaluate a plain arithmetic expression without eval(); ValueError for anything else."""
    expr = expr.replace(",", "").replace("$", "").replace("x", "*").replace("×", "*").replace("÷", "/").strip()

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
                raise ValueError("exponent too large")
            return _OPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.operand))
        raise ValueError(f"not plain arithmetic: {ast.dump(node)[:60]}")

    try:
        return ev(ast.parse(expr, mode="eval"))
    except (SyntaxError, ZeroDivisionError, OverflowError, RecursionError) as e:
        raise ValueError(str(e)) from None


_ANNOTATION = re.compile(r"<<([^<>=]+)=([^<>]+)>>")


def check_calculations(answer: str) -> list[str]:
    """The <<expr=result>> annotations whose result is wrong (rounded to the decimals written)."""
    bad = []
    for expr, result in _ANNOTATION.findall(answer):
        try:
            value = safe_arith(expr)
            claimed = Decimal(result.replace(",", "").replace("$", "").strip())
        except (ValueError, ArithmeticError):
            bad.append(f"<<{expr}={result}>>")
            continue
        decimals = max(0, -claimed.as_tuple().exponent)  # type: ignore[operator]
        tol = 0.5 * 10 ** (-decimals) + 1e-9 * abs(value)
        if abs(value - float(claimed)) > tol:
            bad.append(f"<<{expr}={result}>>")
    return bad


def numbers_in(text: str) -> list[str]:
    """Every number in ``text``, canonical ('1,200' -> '1200')."""
    return [n for n in (canonical_number(m) for m in re.findall(r"\d[\d,]*(?:\.\d+)?", text)) if n is not None]
