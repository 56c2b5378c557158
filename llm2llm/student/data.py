"""From an Example to token ids: chat-template rendering, prompt-masked labels, dynamic padding.

Training and evaluation render prompts the same way (``prompt_ids``), so the model is trained on
exactly the token sequence it later sees at generation time (unless ``task.eval_prompt`` names
another template), followed by the target and the end-of-turn token. Tokenisers whose pad token
*is* the end-of-turn token (SmolLM2: ``<|im_end|>``) would have that token masked by a stock LM
collator; here labels are built explicitly, so the model learns to stop.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from llm2llm.errors import DataError
from llm2llm.example import Example, read_jsonl

IGNORE_INDEX = -100


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render_prompt(tokenizer: Any, user: str, plain: str | None = None) -> str:
    """The text that precedes the assistant's answer (chat template + generation prompt).

    Base models without a chat template (Llama-2-7b-hf) get ``plain`` (the template's plain text;
    by default ``<prompt>\\n\\nAnswer:``).
    """
    if has_chat_template(tokenizer):
        return tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                             add_generation_prompt=True)
    return plain if plain is not None else f"{user}\n\nAnswer:"


def prompt_ids(tokenizer: Any, task: Any, example: Example, stage: str = "train") -> list[int]:
    """Token ids of the rendered prompt for training (``stage="train"``) or evaluation (``"eval"``),
    special tokens such as BOS included exactly once."""
    user = task.prompt(example, stage)
    text = render_prompt(tokenizer, user, task.plain_prompt(user, stage))
    # A chat template writes its own special tokens; a plain prompt needs the tokenizer's BOS.
    return tokenizer(text, add_special_tokens=not has_chat_template(tokenizer))["input_ids"]


@functools.lru_cache(maxsize=8)
def _end_of_turn(tokenizer: Any) -> tuple[int, str]:
    """The token that ends an assistant turn, and any text the template puts between answer and it.

    Found by rendering a dummy conversation: for SmolLM2 / Qwen it is ``<|im_end|>``, for Llama-3
    ``<|eot_id|>``; without a chat template (or if the template ends the turn with plain text) it
    is the EOS token.
    """
    if has_chat_template(tokenizer):
        marker = "XYZZYanswer"
        full = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}, {"role": "assistant", "content": marker}],
                                             tokenize=False)
        suffix = full[full.rindex(marker) + len(marker):].rstrip()
        ids = tokenizer(suffix, add_special_tokens=False)["input_ids"] if suffix else []
        special = set(tokenizer.all_special_ids)
        for i, tid in enumerate(ids):
            if tid in special:
                return tid, tokenizer.decode(ids[:i])
    return tokenizer.eos_token_id, ""


def end_of_turn_id(tokenizer: Any) -> int:
    return _end_of_turn(tokenizer)[0]


def target_ids(tokenizer: Any, target: str) -> list[int]:
    """Token ids of an assistant answer followed by the end-of-turn token (what the model must emit)."""
    eot, between = _end_of_turn(tokenizer)
    text = target + between if has_chat_template(tokenizer) else " " + target
    return tokenizer(text, add_special_tokens=False)["input_ids"] + [eot]


def fit_prompt(ids: list[int], budget: int) -> list[int]:
    """A prompt cut to ``budget`` tokens by dropping its start, the same way for training and evaluation.

    The end holds what matters most and what the model answers from: the input itself (the
    question, the sentence) and the chat template's generation prompt (``<|im_start|>assistant``),
    which must stay. What goes first is the system prompt and the instruction, shared by every
    example (for classification the label list sits there too: see task.list_labels).
    """
    return ids if len(ids) <= budget else ids[len(ids) - max(budget, 1):]


def prompt_budget(task: Any, max_length: int, answer_tokens: int = 0) -> int:
    """How many prompt tokens are kept: ``max_length`` minus the room left for the answer.

    The room is the task's answer budget (``task.max_new_tokens``, or ``eval.max_new_tokens``: what
    evaluation may generate) so that training, generation, label scoring and per-example losses cut
    a long prompt at the same token; only an answer longer than that (a long training target, a long
    label) takes more room.
    """
    room = max(int(task.max_new_tokens), answer_tokens)
    return max(1, max_length - room)


class TargetTooLong(DataError):
    """An example's target alone does not fit ``student.max_length``."""


def encode(tokenizer: Any, task: Any, example: Example, max_length: int) -> dict[str, list[int]]:
    """``input_ids`` = prompt + target + end-of-turn; ``labels`` = -100 on the prompt, ids elsewhere.

    The target is never cut (a cut target trains on nothing, or teaches the model not to stop): a
    sequence longer than ``max_length`` loses the start of its prompt (``fit_prompt`` to
    ``prompt_budget``, the cut evaluation makes), and an example whose target cannot fit with at
    least one prompt token is an error.
    """
    t = target_ids(tokenizer, task.target(example))
    if len(t) >= max_length:
        raise TargetTooLong(f"example {example.id}: its target is {len(t)} tokens, student.max_length={max_length} "
                            "leaves no room for the prompt; raise student.max_length")
    full = prompt_ids(tokenizer, task, example)
    p = fit_prompt(full, prompt_budget(task, max_length, len(t)))
    return {"input_ids": p + t, "labels": [IGNORE_INDEX] * len(p) + t, "prompt_cut": len(full) - len(p)}


@dataclass
class PadCollator:
    """Dynamic padding to the longest sequence in the batch, on the right (training / loss).

    Pads ``input_ids`` with the pad token, ``labels`` with -100, and builds the attention mask.
    Rows may carry an ``id``; with ``id_log`` set, each batch's ids are appended to that file
    (one line per batch), which is how tests check that distributed ranks see different data.
    """

    pad_token_id: int
    id_log: str | None = None

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        import torch

        if self.id_log:
            with open(self.id_log, "a", encoding="utf-8") as f:
                f.write(json.dumps([r.get("id") for r in rows]) + "\n")
        n = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), n), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), n), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(rows), n), dtype=torch.long)
        for i, r in enumerate(rows):
            k = len(r["input_ids"])
            ids[i, :k] = torch.tensor(r["input_ids"])
            labels[i, :k] = torch.tensor(r["labels"])
            mask[i, :k] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def write_encoded(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Pre-tokenised training rows as JSONL (the multi-process worker reads them; no Task needed there)."""
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def read_encoded(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(path)
