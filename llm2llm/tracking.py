"""Experiment tracking: W&B every iteration (offline without a key), or nothing (``tracking=none``)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any, Protocol

from llm2llm.config import TrackingConfig
from llm2llm.errors import Llm2llmError
from llm2llm.rundir import WANDB_ID_FILE, final_predictions


class TrackingError(Llm2llmError):
    """The tracker cannot be started as configured."""


class Tracker(Protocol):
    def log_iteration(self, iteration: int, metrics: dict[str, Any]) -> None: ...
    def log_table(self, name: str, rows: list[dict[str, Any]], iteration: int) -> None: ...
    def log_training_curve(self, iteration: int, curve: list[dict[str, float]]) -> None: ...
    def log_dataset(self, name: str, path: Path, iteration: int) -> None: ...
    def finish(self, summary: dict[str, Any]) -> None: ...
    def abort(self) -> None: ...


class NullTracker:
    def log_iteration(self, iteration: int, metrics: dict[str, Any]) -> None:
        pass

    def log_table(self, name: str, rows: list[dict[str, Any]], iteration: int) -> None:
        pass

    def log_training_curve(self, iteration: int, curve: list[dict[str, float]]) -> None:
        pass

    def log_dataset(self, name: str, path: Path, iteration: int) -> None:
        pass

    def finish(self, summary: dict[str, Any]) -> None:
        pass

    def abort(self) -> None:
        pass


def wandb_mode(configured: str, environ: dict[str, str] | None = None) -> str:
    """``tracking.mode`` as given; ``auto``: ``WANDB_MODE`` where it is online or offline (so the
    variable W&B documents works, also through a SLURM job's environment), else online with
    ``WANDB_API_KEY`` and offline without."""
    env = os.environ if environ is None else environ
    if configured != "auto":
        return str(configured)
    if env.get("WANDB_MODE") in ("online", "offline"):
        return env["WANDB_MODE"]
    return "online" if env.get("WANDB_API_KEY") else "offline"


def sweep_group() -> str | None:
    """One W&B group per Hydra multirun: jobs of one sweep share its command line."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if HydraConfig.get().mode != RunMode.MULTIRUN:
            return None
    except Exception:  # not under Hydra (tests, notebooks)
        return None
    args = " ".join(sorted(a for a in sys.argv[1:] if a not in ("-m", "--multirun")))
    return "sweep-" + hashlib.sha1(args.encode()).hexdigest()[:8]


def _init(wandb: Any, init: dict[str, Any], run_id: str) -> Any:
    """``wandb.init``; one clear error line when W&B already has this run open. That happens when this
    process talks to a W&B service it inherited (``WANDB_SERVICE``, set by W&B in a parent process
    that used W&B itself) in which a killed job of the same run is still registered."""
    try:
        return wandb.init(**init)
    except Exception as e:
        if "is in use" not in str(e):
            raise
        inherited = os.environ.get("WANDB_SERVICE")
        hint = (f"this process inherited the W&B service of another process (WANDB_SERVICE={inherited}); unset "
                "WANDB_SERVICE and run again" if inherited else "wait for the other process to end and run again")
        raise TrackingError(f"W&B run {run_id} is already open in another process (a killed job of this run?): "
                            f"{hint}, or use tracking=none") from None


class WandbTracker:
    """Metrics keyed by iteration, tables of wrong examples and teacher outputs, datasets as artifacts."""

    def __init__(self, cfg: TrackingConfig, run_name: str, config: dict[str, Any], run_dir: Path,
                 tags: list[str]) -> None:
        import wandb

        mode = wandb_mode(cfg.mode)
        os.environ.setdefault("WANDB_SILENT", "true")
        # A stable id stored in the run dir: a resumed run continues the same W&B run.
        id_file = run_dir / WANDB_ID_FILE
        if not id_file.is_file():
            id_file.write_text(uuid.uuid4().hex[:12])
        self.wandb = wandb
        run_id = id_file.read_text().strip()
        init = dict(project=cfg.project, entity=cfg.entity, group=cfg.group or sweep_group() or run_name,
                    name=run_name, tags=sorted(set(cfg.tags) | set(tags)), config=config, mode=mode,
                    dir=os.environ.get("WANDB_DIR") or str(run_dir), id=run_id, resume="allow",
                    settings=wandb.Settings(console="off"))
        self.run = _init(wandb, init, run_id)
        self.run.define_metric("iteration")
        self.run.define_metric("*", step_metric="iteration")

    def log_iteration(self, iteration: int, metrics: dict[str, Any]) -> None:
        flat = {k: v for k, v in _flatten(metrics).items() if isinstance(v, (int, float, bool)) or v is None}
        self.run.log({"iteration": iteration, **flat})

    def log_table(self, name: str, rows: list[dict[str, Any]], iteration: int) -> None:
        if not rows:
            return
        columns = list(rows[0])
        table = self.wandb.Table(columns=columns, data=[[_cell(r.get(c)) for c in columns] for r in rows])
        self.run.log({"iteration": iteration, name: table})

    def log_training_curve(self, iteration: int, curve: list[dict[str, float]]) -> None:
        """Iteration ``iteration``'s per-step loss, learning rate and grad norm (llm2llm.curves), each
        against that iteration's own step axis."""
        from llm2llm.curves import KEYS, PREFIX, wandb_rows

        p = f"{PREFIX}{iteration}/"
        self.run.define_metric(p + "step")
        for k in KEYS:
            self.run.define_metric(p + k, step_metric=p + "step")
        for row in wandb_rows(iteration, curve):
            self.run.log(row)

    def log_dataset(self, name: str, path: Path, iteration: int) -> None:
        art = self.wandb.Artifact(name=name, type="dataset", metadata={"iteration": iteration})
        art.add_file(str(path))
        self.run.log_artifact(art)

    def finish(self, summary: dict[str, Any]) -> None:
        for k, v in _flatten(summary).items():
            self.run.summary[k] = v
        self.run.finish()

    def abort(self) -> None:
        """Close a run that failed (marked failed in W&B); harmless after ``finish``."""
        self.run.finish(exit_code=1)


def tracked_summary(run_dir: Path, results: dict[str, Any]) -> dict[str, Any]:
    """What a finished run leaves in its W&B summary: the headline numbers, plus its results.json
    (config aside: the run's config is already there) and the last iteration's per-example
    correctness as JSON strings, so ``llm2llm.report --wandb`` computes the same statistics as from
    the run directory (the paired test included)."""
    predictions = final_predictions(run_dir, results)
    return {
        **{k: results[k] for k in ("final_test_accuracy", "best_test_accuracy", "total_augmented")},
        "results_json": json.dumps({k: v for k, v in results.items() if k != "config"}),
        "final_predictions_json": json.dumps(predictions),
    }


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _cell(v: Any) -> Any:
    return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)


def build_tracker(cfg: TrackingConfig, run_name: str, config: dict[str, Any], run_dir: Path,
                  tags: list[str]) -> Tracker:
    if cfg.backend == "none":
        return NullTracker()
    return WandbTracker(cfg, run_name, config, run_dir, tags)
