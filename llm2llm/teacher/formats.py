"""Strict parsers and validators for teacher output, one per prompt template.

Each parser takes the teacher's raw reply and the parent example and returns the new example's
fields (``Parsed``) or raises ``Rejected(reason)``; the reason strings are what the run's
``stats["rejected"]`` counts. New examples always inherit what must not drift from the parent:
a classification example's label comes from its parent (the teacher writes text only), a
rephrasing keeps its parent's answer (and choices).
"""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable

from llm2llm.example import Example
from llm2llm.tasks.base import Task, normalise_label_text
from llm2llm.tasks.casehold import LETTERS
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


def _sections(output: str, names: tuple[str, ...]) -> list[tuple[str, str]]:
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


def _strip_quotes(s: str) -> str:
    s = s.strip()
    while len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'`":
        s = s[1:-1].strip()
    return s


def _check_text(text: str, parent: Example, max_chars: int) -> str:
    text = _strip_quotes(text)
    if not text:
        raise Rejected("empty")
    if len(text) > max_chars:
        raise Rejected("too_long", f"{len(text)} > {max_chars} characters")
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
_INPUT_NAMES = ("input", "text", "sentence", "question", "request", "review", "utterance")
# "The new sentence", "This question.", "[new sentence]": the reply's description, not a reply (the
# embedded 135M teacher writes these; the first one was kept and every later one was a duplicate)
_SELF_DESCRIPTION = re.compile(r"(?:(?:the|a|an|this|that|my|your|our|new|rephrased|another|same|example)\s+)*"
                               r"(?:%s|example|one)s?" % "|".join(_INPUT_NAMES))


def is_label_name(text: str, labels: Iterable[str]) -> bool:
    """Whether ``text`` is just one of ``labels`` (case, quotes and punctuation aside)."""
    return normalise_label_text(_strip_quotes(text)) in {normalise_label_text(label) for label in labels}


def is_self_description(text: str) -> bool:
    """Whether ``text`` only names the kind of thing it should be ("the new sentence")."""
    return bool(_SELF_DESCRIPTION.fullmatch(normalise_label_text(text)))


def _max_chars(parent: Example, factor: int = 4, floor: int = 400) -> int:
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


def _question_answer(output: str, parent: Example) -> tuple[str, str]:
    """The first 'Question: ...' section and the 'Answer: ...' right after it (question checked)."""
    secs = _sections(output, ("question", "answer"))
    names = [n for n, _ in secs]
    if "question" not in names:
        raise Rejected("no_question")
    qi = names.index("question")
    if qi + 1 >= len(secs) or names[qi + 1] != "answer":
        raise Rejected("no_answer")
    return _check_text(secs[qi][1], parent, _max_chars(parent)), secs[qi + 1][1]


def parse_gsm8k(output: str, parent: Example, task: Task) -> Parsed:
    """'Question: ... Answer: <calculation> #### N' (the public LLM2LLM format; '1.' numbering allowed).

    Only the first Question/Answer pair counts. The rationale is kept as written and the final
    line is rewritten as '#### <canonical number>' (GSM8K's own format).
    """
    question, answer = _question_answer(output, parent)
    rationale, number = split_rationale(answer)
    if not rationale:
        raise Rejected("no_calculation", "the answer shows no work before '####'")
    if len(rationale) > MAX_TEXT_CHARS:
        raise Rejected("too_long", "rationale")
    return Parsed(text=question, answer=f"{rationale}\n#### {number}")


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


# ------------------------------------------------------------------------ classification
def parse_classification(output: str, parent: Example, task: Task) -> Parsed:
    """'<Input name>: <text>' (+ optional 'Label: <parent label>'). The label is the parent's: an
    output naming another label is rejected."""
    input_name = getattr(task, "input_name", "Input").lower()
    secs = _sections(output, tuple(dict.fromkeys((input_name,) + _INPUT_NAMES + ("label",))))
    texts = [body for name, body in secs if name != "label"]
    labels = [body for name, body in secs if name == "label"]
    if not texts:
        raise Rejected("no_input", f"no '{getattr(task, 'input_name', 'Input')}:' line")
    text = texts[0].split("\n\n")[0].strip()  # the first paragraph of the first input section
    if labels:
        said = normalise_label_text(labels[0].splitlines()[0] if labels[0] else "")
        if said != normalise_label_text(parent.answer):
            raise Rejected("label_changed", f"{labels[0][:40]!r} != {parent.answer!r}")
    if "\n" in text.strip():
        text = " ".join(text.split())
    if task.labels and is_label_name(text, task.labels):
        raise Rejected("label_only", "the new input is just a label name")
    return Parsed(text=_check_text(text, parent, _max_chars(parent)), answer=parent.answer)


# --------------------------------------------------------------------------------- QA
def parse_qa(output: str, parent: Example, task: Task) -> Parsed:
    """'Question: ... Answer: ...' where the answer matches the task's answer pattern."""
    question, answer = _question_answer(output, parent)
    answer = answer.strip()
    if not answer:
        raise Rejected("no_answer")
    if task.parse(answer) is None:
        raise Rejected("bad_final_answer", "the answer does not match task.answer_pattern")
    return Parsed(text=question, answer=answer)


# --------------------------------------------------------------------------------- CaseHOLD
_OPTION = re.compile(r"^[ \t]*\(?([A-Ea-e])[).:][ \t]+(.+?)[ \t]*$", re.MULTILINE)


def parse_casehold(output: str, parent: Example, task: Task) -> Parsed:
    """'Excerpt: ...<HOLDING>...', five options 'A. ...'..'E. ...', and 'Correct: <letter>'."""
    secs = _sections(output, ("excerpt", "context", "correct", "answer"))
    body = {n: b for n, b in reversed(secs)}  # the first section of each name wins
    context = body.get("excerpt") or body.get("context")
    if context is None:
        raise Rejected("no_context")
    options_at = _OPTION.search(context)
    options_block = context[options_at.start():] if options_at else ""
    context = context[:options_at.start()].strip() if options_at else context.strip()
    if context.count("<HOLDING>") != 1:
        raise Rejected("holding_placeholder", f"{context.count('<HOLDING>')} <HOLDING> placeholders, need exactly 1")
    context = _check_text(context, parent, _max_chars(parent, factor=3, floor=1500))
    options = [(l.upper(), t.strip()) for l, t in _OPTION.findall(options_block)]
    if [l for l, _ in options][:5] != list(LETTERS) or len(options) != 5:
        raise Rejected("bad_choices", f"expected options A-E once each, got {''.join(l for l, _ in options) or 'none'}")
    choices = tuple(t for _, t in options)
    if len({normalise_label_text(c) for c in choices}) != 5 or any(not normalise_label_text(c) for c in choices):
        raise Rejected("duplicate_choices", "the five holdings must be distinct and non-empty")
    marked = body.get("correct") or body.get("answer")
    letter = re.match(r"\s*\(?([A-Ea-e])\b", marked or "")
    if not letter:
        raise Rejected("bad_marked_answer", f"no 'Correct: <A-E>' line (got {(marked or '')[:20]!r})")
    return Parsed(text=context, answer=str(LETTERS.index(letter.group(1).upper())), choices=choices)


# ------------------------------------------------------------------ AugGPT rephrasings
def parse_rephrase(output: str, parent: Example, task: Task) -> Parsed:
    """A rephrasing of the parent's input; answer (and choices) are the parent's.

    GSM8K: every number in the parent question must still be there (so its answer still holds).
    CaseHOLD: the <HOLDING> placeholder must survive exactly once.
    """
    template = task.teacher_template
    if template == "classification":
        return parse_classification(output, parent, task)
    header = {"gsm8k": "question", "qa": "question", "casehold": "excerpt"}[template]
    secs = _sections(output, (header, "answer", "label", "correct"))
    texts = [b for n, b in secs if n == header]
    if texts:
        text = texts[0]
    else:
        if secs or not output.strip():
            raise Rejected(f"no_{header}")
        text = output.strip()
    text = _check_text(text, parent, _max_chars(parent, factor=3))
    if template == "gsm8k":
        if "####" in text:
            raise Rejected("answer_in_question")
        missing = sorted(set(_numbers(parent.text)) - set(_numbers(text)))
        if missing:
            raise Rejected("numbers_changed", f"missing {missing[:5]}")
    if template == "casehold" and text.count("<HOLDING>") != 1:
        raise Rejected("holding_placeholder", f"{text.count('<HOLDING>')} <HOLDING> placeholders, need exactly 1")
    return Parsed(text=text, answer=parent.answer, choices=parent.choices)


def _numbers(text: str) -> list[str]:
    return [n for n in (canonical_number(m) for m in re.findall(r"\d[\d,]*(?:\.\d+)?", text)) if n is not None]


PARSERS: dict[str, Callable[[str, Example, Task], Parsed]] = {
    "gsm8k": parse_gsm8k,
    "classification": parse_classification,
    "qa": parse_qa,
    "casehold": parse_casehold,
}


def parse_output(output: str, parent: Example, task: Task, mode: str = "augment",
                 check_calcs: bool = False, truncated: bool = False) -> Parsed:
    """Parse and validate one teacher reply for ``parent`` (mode: augment | rephrase).

    ``truncated`` (the reply hit max_tokens): its last line may be cut short ('#### 7' of
    '#### 72'), so it is dropped before parsing, as the public code drops a truncated last item;
    a reply that is unusable without it is rejected as 'truncated'.
    """
    if truncated:
        try:
            return parse_output(output.rsplit("\n", 1)[0] if "\n" in output else "", parent, task, mode, check_calcs)
        except Rejected as r:
            raise Rejected("truncated", f"hit max_tokens; without its last line: {r}") from None
    if not output or not output.strip():
        raise Rejected("empty")
    parsed = parse_rephrase(output, parent, task) if mode == "rephrase" else PARSERS[task.teacher_template](output, parent, task)
    if check_calcs and task.teacher_template == "gsm8k" and mode == "augment":
        bad = check_calculations(parsed.answer)
        if bad:
            raise Rejected("bad_calculation", ", ".join(bad[:3]))
    return parsed
