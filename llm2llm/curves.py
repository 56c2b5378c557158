"""Per-step training curves (loss, learning rate, gradient norm) of every iteration's fine-tuning.

The Trainer's log history is written to ``<checkpoint>/train_log.json`` by rank 0, whether the
training ran in the harness process or in workers started by torchrun / the deepspeed launcher, so
the curve is read from there after training, by the process that runs the loop, for both paths.
The loop hands it to the tracker when the iteration is finished; the report plots it from run
directories or from a W&B history (llm2llm.report.plots.plot_training_loss).

W&B keys: ``train/iter_<i>/loss``, ``train/iter_<i>/learning_rate`` and ``train/iter_<i>/grad_norm``
against their own step axis ``train/iter_<i>/step`` (the optimizer step within iteration i's
training). Each iteration is its own curve, and a resumed run, which logs only the iterations it
finishes, never writes points over another iteration's.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from llm2llm.rundir import CHECKPOINT_DIR, ITER_PREFIX, TRAIN_LOG_FILE, iter_number

#: what one logged training step carries, as the Trainer names it
KEYS = ("loss", "learning_rate", "grad_norm")
PREFIX = "train/iter_"
_KEY = re.compile(r"^train/iter_(\d+)/(step|loss|learning_rate|grad_norm)$")

Curve = list[dict[str, float]]


def curve_from_log(log_history: Iterable[dict[str, Any]]) -> Curve:
    """The logged training steps of a Trainer's ``state.log_history``: ``{"step", "loss", "learning_rate",
    "grad_norm"}`` per row (the end-of-training summary row, which has ``train_loss`` and no ``loss``, is
    not a step)."""
    rows: Curve = []
    for r in log_history:
        if r.get("loss") is None or r.get("step") is None:
            continue
        rows.append({"step": int(r["step"]), **{k: float(r[k]) for k in KEYS if r.get(k) is not None}})
    return rows


def read_curve(checkpoint: Path) -> Curve:
    """The curve of the training that made ``checkpoint`` (empty if it left no log)."""
    f = Path(checkpoint) / TRAIN_LOG_FILE
    if not f.is_file():
        return []
    return curve_from_log(json.loads(f.read_text()))


def wandb_rows(iteration: int, curve: Curve) -> list[dict[str, float]]:
    """One W&B history row per logged step, under the iteration's own keys."""
    p = f"{PREFIX}{iteration}/"
    return [{p + k: v for k, v in row.items()} for row in curve]


def curves_from_history(history: Iterable[dict[str, Any]]) -> dict[int, Curve]:
    """The curves back from W&B history rows (what ``wandb_rows`` logged), by iteration, sorted by step."""
    out: dict[int, dict[int, dict[str, float]]] = defaultdict(dict)
    for row in history:
        found: dict[int, dict[str, float]] = defaultdict(dict)
        for key, value in row.items():
            m = _KEY.match(key)
            if m and value is not None:
                found[int(m.group(1))][m.group(2)] = float(value)
        for it, point in found.items():
            if "step" in point:
                step = int(point["step"])
                out[it][step] = {**out[it].get(step, {}), **point, "step": step}
    return {it: [points[s] for s in sorted(points)] for it, points in sorted(out.items())}


def run_dir_curves(run_dir: Path) -> dict[int, Curve]:
    """Every finished iteration's curve in a run directory."""
    out: dict[int, Curve] = {}
    for d in Path(run_dir).glob(f"{ITER_PREFIX}*"):
        i = iter_number(d)
        if i is not None:
            curve = read_curve(d / CHECKPOINT_DIR)
            if curve:
                out[i] = curve
    return dict(sorted(out.items()))
