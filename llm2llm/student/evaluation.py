"""What the eval group decides beyond decoding: how a run says it evaluated, the GSM8K extractions
recorded side by side, the count of generated outputs that are not a label, sampling seeds, and
the per-iteration metrics built from them."""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Sequence

from llm2llm.example import Example
from llm2llm.student.predict import Prediction

log = logging.getLogger("llm2llm.student")


def _value(x: Any) -> Any:
    return getattr(x, "value", x)  # an Enum member or its plain string


def describe(task: Any, backend: str = "hf") -> dict[str, Any]:
    """The evaluation a run performs, eval.mode=auto resolved: mode, why, decoding, budget, extraction."""
    ev = task.eval
    mode, why = task.eval_mode()
    how: dict[str, Any] = {"mode": mode, "why": why, "eval_group": ev.name}
    if mode == "generate":
        how.update(decoding=_value(ev.decoding), max_new_tokens=task.max_new_tokens)
        if how["decoding"] == "sample":
            how.update(temperature=ev.temperature, top_k=ev.top_k, top_p=ev.top_p,
                       seeds="per example, from (run seed, example id)")
        how["extraction"] = _value(ev.extraction)
    else:
        how.update(labels=len(task.labels or ()), extraction=None)
    how["backend"] = backend
    return how


def announce(how: dict[str, Any]) -> None:
    """One line on stdout saying how the student is evaluated."""
    if how["mode"] == "score":
        line = f"label scoring: the most likely of {how['labels']} labels"
    else:
        line = f"{how['decoding']} generation, up to {how['max_new_tokens']} new tokens"
        if how["decoding"] == "sample":
            line += f" (temperature {how['temperature']}, top_k {how['top_k']}, top_p {how['top_p']}, seeded per example)"
        if how.get("extraction") and how["extraction"] != "strict":
            line += f", {how['extraction']} answer extraction"
    print(f"evaluation: {line} [{how['why']}; eval={how['eval_group']}]", flush=True)


def sampling_seeds(run_seed: int, examples: Sequence[Example]) -> list[int]:
    """One sampling seed per example from (run seed, example id): the same example samples the same
    tokens whatever batch, order or device it is evaluated in, and a run repeats exactly."""
    return [int.from_bytes(hashlib.sha256(f"eval:{run_seed}:{ex.id}".encode()).digest()[:8], "big") >> 1
            for ex in examples]


def judge_outputs(task: Any, examples: Sequence[Example], outputs: Sequence[str], extraction: str) -> list[Prediction]:
    """Predictions of generated outputs: ``extraction`` decides 'correct'; a task with several extractions
    (GSM8K: strict and official) records whether each counts the output correct."""
    preds = []
    for ex, out in zip(examples, outputs):
        judged = task.judge(out, ex)
        prediction, correct = judged.get(extraction, judged["strict"])
        by = {name: c for name, (_, c) in judged.items()} if len(judged) > 1 else None
        preds.append(Prediction(ex.id, out, prediction, correct, correct_by=by))
    return preds


def warn_non_labels(task: Any, preds: Sequence[Prediction], desc: str) -> int:
    """Generated outputs of a labelled task that name no label (counted wrong): one warning line if any."""
    if task.labels is None:
        return 0
    n = sum(p.prediction is None for p in preds)
    if n:
        log.warning("%s: %d of %d generated outputs are not one of the %d labels and count as wrong; eval.mode=score "
                    "picks the most likely label instead", desc, n, len(preds), len(task.labels))
    return n


def evaluation_metrics(how: dict[str, Any], labelled: bool, test: Sequence[dict[str, Any]],
                       seeds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Metrics of one iteration's evaluation: how it ran, accuracy under each extraction (GSM8K), and
    how many generated outputs were not a label (labelled tasks, generation)."""
    out: dict[str, Any] = {"evaluation": how}
    for split, rows in (("test", test), ("seed", seeds)):
        names = sorted({k for r in rows for k in (r.get("correct_by") or {})})
        for name in names:
            out[f"{split}_accuracy_{name}"] = sum(bool((r.get("correct_by") or {}).get(name)) for r in rows) / max(len(rows), 1)
        if labelled and how.get("mode") == "generate":
            out[f"{split}_non_label_outputs"] = sum(r.get("prediction") is None for r in rows)
    return out
