"""The teacher's output format, one object per prompt template: how a reply is parsed, constrained
and written.

``output_format(task)`` picks the object for ``task.teacher_template`` once; everything that depends
on the template's reply layout asks it:

- ``parse``: the reply (augment: a new example; rephrase: the parent's input reworded) as the new
  example's fields, or ``Rejected(reason)``. New examples inherit what must not drift from the
  parent: a classification example's label comes from its parent (the teacher writes text only), a
  rephrasing keeps its parent's answer (and choices).
- ``schema`` / ``instruction`` / ``to_plain``: structured output. Where a backend can constrain
  decoding (llama.cpp's grammar from a JSON schema, OpenAI's ``response_format`` json_schema, vLLM's
  ``guided_json``), the teacher may only write an object of the task's output shape; the object is
  turned back into the template's plain-text layout (``Sentence: ... / Label: ...``,
  ``Question: ... / Answer: ... #### N``) and goes through exactly the same parser and validators as
  a plain reply. AugGPT's rephrasings of classification inputs have the same shape as LLM2LLM's new
  inputs and get the same schema, so the two methods' teachers are held to the same output rules;
  the other templates without a schema (CaseHOLD, QA, rephrasings of GSM8K questions) stay plain.
  Lengths are checked after parsing, not in the schema: llama.cpp turns ``maxLength`` into a
  repetition rule whose size grows with the limit (a limit of 1,000 characters crashed it). The
  schema and the instruction are part of the teacher's cache key.
- ``plain_text``: an example written as the template's reply (what ``teacher=oracle`` answers).
"""

from __future__ import annotations

import json
import re
from typing import Any

from llm2llm.errors import ConfigError
from llm2llm.example import Example
from llm2llm.tasks.base import Task, normalise_label_text
from llm2llm.tasks.casehold import LETTERS
from llm2llm.teacher.formats import (
    INPUT_NAMES, MAX_TEXT_CHARS, Parsed, Rejected, check_calculations, check_text, is_label_name, max_chars,
    numbers_in, question_answer, sections, split_rationale,
)


class OutputFormat:
    """The reply format of one template; subclasses fill in the template-specific parts."""

    name = ""
    #: what the input is called where the task names nothing (``task.input_name`` wins)
    default_input_name = "Input"
    #: the section a rephrasing is read from
    rephrase_header = ""

    def input_name(self, task: Task) -> str:
        return getattr(task, "input_name", self.default_input_name)

    def field(self, task: Task) -> str:
        """The JSON key of the new input in a structured reply."""
        return self.input_name(task).lower().replace(" ", "_")

    # ------------------------------------------------------------------------------ parsing
    def parse(self, reply: str, parent: Example, task: Task, mode: str = "augment",
              check_calcs: bool = False, truncated: bool = False) -> Parsed:
        """Parse and validate one teacher reply for ``parent`` (mode: augment | rephrase).

        ``truncated`` (the reply hit max_tokens): its last line may be cut short ('#### 7' of
        '#### 72'), so it is dropped before parsing, as the public code drops a truncated last item;
        a reply that is unusable without it is rejected as 'truncated'.
        """
        if truncated:
            try:
                return self.parse(reply.rsplit("\n", 1)[0] if "\n" in reply else "", parent, task, mode, check_calcs)
            except Rejected as r:
                raise Rejected("truncated", f"hit max_tokens; without its last line: {r}") from None
        if not reply or not reply.strip():
            raise Rejected("empty")
        parsed = self.rephrased(reply, parent, task) if mode == "rephrase" else self.augmented(reply, parent, task)
        if check_calcs and mode == "augment":
            self.check_calculations(parsed)
        return parsed

    def augmented(self, reply: str, parent: Example, task: Task) -> Parsed:
        """A new example written after ``parent``."""
        raise NotImplementedError

    def rephrased(self, reply: str, parent: Example, task: Task) -> Parsed:
        """A rewording of the parent's input (the whole reply if it has no sections at all); answer and
        choices are the parent's."""
        header = self.rephrase_header
        secs = sections(reply, (header, "answer", "label", "correct"))
        texts = [b for n, b in secs if n == header]
        if texts:
            text = texts[0]
        else:
            if secs or not reply.strip():
                raise Rejected(f"no_{header}")
            text = reply.strip()
        text = check_text(text, parent, max_chars(parent, factor=3))
        self.check_rephrasing(text, parent)
        return Parsed(text=text, answer=parent.answer, choices=parent.choices)

    def check_rephrasing(self, text: str, parent: Example) -> None:
        """What a rephrasing must keep of its parent beyond the shared checks (nothing by default)."""

    def check_calculations(self, parsed: Parsed) -> None:
        """teacher.check_calculations: reject a new example's wrong arithmetic (where it has any)."""

    # ---------------------------------------------------------------------- structured output
    def schema(self, task: Task, parent: Example, mode: str) -> dict[str, Any] | None:
        """The JSON schema a reply for ``parent`` must follow, or None (plain text)."""
        return None

    def instruction(self, task: Task, parent: Example, mode: str) -> str:
        """One line appended to the prompt: the reply's JSON form, in words (a small model copies any
        placeholder it is shown, so no ``<the new sentence>`` example)."""
        what = "rephrased" if mode == "rephrase" else "new"
        return (f'\n\nReply with one JSON object whose "{self.field(task)}" is your {what} '
                f'{self.input_name(task).lower()}, written out in full.')

    def to_plain(self, reply: str, task: Task, parent: Example) -> str:
        """The JSON reply in the template's plain-text layout; raises ValueError if it is not such an
        object (KeyError, TypeError: not of the schema's shape)."""
        data = _object(reply)
        return f"{self.input_name(task)}: {data[self.field(task)]}\nLabel: {parent.answer}"

    # ----------------------------------------------------------------------------- writing
    def plain_text(self, task: Task, example: Example) -> str:
        """``example`` written as a plain-text teacher reply (``parse`` reads it back into the same
        text and answer)."""
        raise NotImplementedError


def _object(reply: str) -> dict[str, Any]:
    data = json.loads(reply)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


class ClassificationFormat(OutputFormat):
    """'<Input name>: <text>' (+ optional 'Label: <parent label>'). The label is the parent's: an output
    naming another label is rejected. A rephrasing has the same form."""

    name = "classification"

    def augmented(self, reply: str, parent: Example, task: Task) -> Parsed:
        input_name = self.input_name(task).lower()
        secs = sections(reply, tuple(dict.fromkeys((input_name,) + INPUT_NAMES + ("label",))))
        texts = [body for name, body in secs if name != "label"]
        labels = [body for name, body in secs if name == "label"]
        if not texts:
            raise Rejected("no_input", f"no '{self.input_name(task)}:' line")
        text = texts[0].split("\n\n")[0].strip()  # the first paragraph of the first input section
        if labels:
            said = normalise_label_text(labels[0].splitlines()[0] if labels[0] else "")
            if said != normalise_label_text(parent.answer):
                raise Rejected("label_changed", f"{labels[0][:40]!r} != {parent.answer!r}")
        if "\n" in text.strip():
            text = " ".join(text.split())
        if task.labels and is_label_name(text, task.labels):
            raise Rejected("label_only", "the new input is just a label name")
        return Parsed(text=check_text(text, parent, max_chars(parent)), answer=parent.answer)

    def rephrased(self, reply: str, parent: Example, task: Task) -> Parsed:
        return self.augmented(reply, parent, task)

    def schema(self, task: Task, parent: Example, mode: str) -> dict[str, Any] | None:
        if mode not in ("augment", "rephrase"):
            return None
        return {"type": "object", "additionalProperties": False, "required": [self.field(task)],
                "properties": {self.field(task): {"type": "string"}}}

    def plain_text(self, task: Task, example: Example) -> str:
        return f"{self.input_name(task)}: {example.text}\nLabel: {example.answer}"


class GSM8KFormat(OutputFormat):
    """'Question: ... Answer: <calculation> #### N' (the public LLM2LLM format; '1.' numbering allowed).

    Only the first Question/Answer pair counts. The rationale is kept as written and the final line
    is rewritten as '#### <canonical number>' (GSM8K's own format). A rephrased question must keep
    every number of its parent's (so its answer still holds) and must not answer itself.
    """

    name = "gsm8k"
    default_input_name = "Question"
    rephrase_header = "question"

    def augmented(self, reply: str, parent: Example, task: Task) -> Parsed:
        question, answer = question_answer(reply, parent)
        rationale, number = split_rationale(answer)
        if not rationale:
            raise Rejected("no_calculation", "the answer shows no work before '####'")
        if len(rationale) > MAX_TEXT_CHARS:
            raise Rejected("too_long", "rationale")
        return Parsed(text=question, answer=f"{rationale}\n#### {number}")

    def check_rephrasing(self, text: str, parent: Example) -> None:
        if "####" in text:
            raise Rejected("answer_in_question")
        missing = sorted(set(numbers_in(parent.text)) - set(numbers_in(text)))
        if missing:
            raise Rejected("numbers_changed", f"missing {missing[:5]}")

    def check_calculations(self, parsed: Parsed) -> None:
        bad = check_calculations(parsed.answer)
        if bad:
            raise Rejected("bad_calculation", ", ".join(bad[:3]))

    def schema(self, task: Task, parent: Example, mode: str) -> dict[str, Any] | None:
        if mode != "augment":
            return None
        return {"type": "object", "additionalProperties": False, "required": ["question", "rationale", "answer"],
                "properties": {"question": {"type": "string"}, "rationale": {"type": "string"},
                               "answer": {"type": "number"}}}

    def instruction(self, task: Task, parent: Example, mode: str) -> str:
        return ('\n\nReply with one JSON object: "question" is your new question, "rationale" its step-by-step '
                'calculation, "answer" the final number.')

    def to_plain(self, reply: str, task: Task, parent: Example) -> str:
        data = _object(reply)
        answer = data["answer"]
        number = int(answer) if isinstance(answer, float) and answer.is_integer() else answer
        return f"Question: {data['question']}\nAnswer: {data['rationale']}\n#### {number}"

    def plain_text(self, task: Task, example: Example) -> str:
        return f"Question: {example.text}\nAnswer: {example.answer}"


class QAFormat(OutputFormat):
    """'Question: ... Answer: ...' where the answer matches the task's answer pattern."""

    name = "qa"
    default_input_name = "Question"
    rephrase_header = "question"

    def augmented(self, reply: str, parent: Example, task: Task) -> Parsed:
        question, answer = question_answer(reply, parent)
        answer = answer.strip()
        if not answer:
            raise Rejected("no_answer")
        if task.parse(answer) is None:
            raise Rejected("bad_final_answer", "the answer does not match task.answer_pattern")
        return Parsed(text=question, answer=answer)

    def plain_text(self, task: Task, example: Example) -> str:
        return f"Question: {example.text}\nAnswer: {example.answer}"


_OPTION = re.compile(r"^[ \t]*\(?([A-Ea-e])[).:][ \t]+(.+?)[ \t]*$", re.MULTILINE)


class CaseHoldFormat(OutputFormat):
    """'Excerpt: ...<HOLDING>...', five options 'A. ...'..'E. ...', and 'Correct: <letter>'. A rephrased
    excerpt must keep the <HOLDING> placeholder exactly once."""

    name = "casehold"
    rephrase_header = "excerpt"

    def augmented(self, reply: str, parent: Example, task: Task) -> Parsed:
        secs = sections(reply, ("excerpt", "context", "correct", "answer"))
        body = {n: b for n, b in reversed(secs)}  # the first section of each name wins
        context = body.get("excerpt") or body.get("context")
        if context is None:
            raise Rejected("no_context")
        options_at = _OPTION.search(context)
        options_block = context[options_at.start():] if options_at else ""
        context = context[:options_at.start()].strip() if options_at else context.strip()
        _check_holding(context)
        context = check_text(context, parent, max_chars(parent, factor=3, floor=1500))
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

    def check_rephrasing(self, text: str, parent: Example) -> None:
        _check_holding(text)

    def plain_text(self, task: Task, example: Example) -> str:
        options = "\n".join(f"{letter}. {choice}" for letter, choice in zip(LETTERS, example.choices or ()))
        return f"Excerpt: {example.text}\n{options}\nCorrect: {LETTERS[int(example.answer)]}"


def _check_holding(text: str) -> None:
    if text.count("<HOLDING>") != 1:
        raise Rejected("holding_placeholder", f"{text.count('<HOLDING>')} <HOLDING> placeholders, need exactly 1")


FORMATS: dict[str, OutputFormat] = {f.name: f for f in (ClassificationFormat(), GSM8KFormat(), QAFormat(),
                                                           CaseHoldFormat())}


def output_format(task: Task) -> OutputFormat:
    """The output format of ``task``'s teacher template."""
    try:
        return FORMATS[task.teacher_template]
    except KeyError:
        raise ConfigError(f"task {task.name!r}: no teacher output format for the template "
                          f"{task.teacher_template!r}; known: {', '.join(FORMATS)}") from None


def parse_output(output: str, parent: Example, task: Task, mode: str = "augment",
                 check_calcs: bool = False, truncated: bool = False) -> Parsed:
    """``output_format(task).parse(...)``: one teacher reply for ``parent`` as a new example, or Rejected."""
    return output_format(task).parse(output, parent, task, mode, check_calcs, truncated)
