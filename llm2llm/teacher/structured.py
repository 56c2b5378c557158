"""Structured teacher output: a JSON schema per prompt template, and the way back to plain text.

Where a backend can constrain decoding (llama.cpp's grammar from a JSON schema, OpenAI's
``response_format`` json_schema, vLLM's ``guided_json``), the teacher may only write an object of
the task's output shape; the object is then turned back into the plain-text layout the template
asks for (``Sentence: ... / Label: ...``, ``Question: ... / Answer: ... #### N``) and goes through
exactly the same parser and validators as a plain reply (label preserved, not an echo, dedup,
decontamination). AugGPT's rephrasings of classification inputs have the same shape as LLM2LLM's new
inputs and get the same schema, so the two methods' teachers are held to the same output rules;
the other templates without a schema here (CaseHOLD, QA, rephrasings of GSM8K questions) stay plain.
Lengths are checked after parsing, not in the schema: llama.cpp turns ``maxLength`` into a
repetition rule whose size grows with the limit (a limit of 1,000 characters crashed it).
"""

from __future__ import annotations

import json
from typing import Any

from llm2llm.example import Example
from llm2llm.tasks.base import Task
from llm2llm.teacher.prompts import placeholders


def _field(task: Task, parent: Example) -> str:
    return placeholders(task, parent)["input_name_lower"].replace(" ", "_")


def schema_for(task: Task, parent: Example, mode: str) -> dict[str, Any] | None:
    """The JSON schema a reply for ``parent`` must follow, or None (plain text)."""
    if task.teacher_template == "classification" and mode in ("augment", "rephrase"):
        return {"type": "object", "additionalProperties": False, "required": [_field(task, parent)],
                "properties": {_field(task, parent): {"type": "string"}}}
    if task.teacher_template == "gsm8k" and mode == "augment":
        return {"type": "object", "additionalProperties": False, "required": ["question", "rationale", "answer"],
                "properties": {"question": {"type": "string"}, "rationale": {"type": "string"},
                               "answer": {"type": "number"}}}
    return None


def instruction(task: Task, parent: Example, mode: str) -> str:
    """One line appended to the prompt: the reply's JSON form, in words (a small model copies any
    placeholder it is shown, so no ``<the new sentence>`` example)."""
    if task.teacher_template == "gsm8k":
        return ('\n\nReply with one JSON object: "question" is your new question, "rationale" its step-by-step '
                'calculation, "answer" the final number.')
    name = placeholders(task, parent)["input_name_lower"]
    what = "rephrased" if mode == "rephrase" else "new"
    return f'\n\nReply with one JSON object whose "{_field(task, parent)}" is your {what} {name}, written out in full.'


def to_plain(reply: str, task: Task, parent: Example) -> str:
    """The JSON reply in the template's plain-text layout; raises ValueError if it is not such an object."""
    data = json.loads(reply)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    values = placeholders(task, parent)
    if task.teacher_template == "gsm8k":
        answer = data["answer"]
        number = int(answer) if isinstance(answer, float) and answer.is_integer() else answer
        return f"Question: {data['question']}\nAnswer: {data['rationale']}\n#### {number}"
    return f"{values['input_name']}: {data[_field(task, parent)]}\nLabel: {values['label']}"
