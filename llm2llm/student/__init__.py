"""The student: fine-tune on examples, evaluate a checkpoint, measure per-example losses.

    student = Student(cfg.student, cfg.trainer, task, cache_dir, seed)
    ckpt = student.train(examples, run_dir / "iter-0" / "model")      # resumable, atomic
    preds = student.predict(ckpt, test_examples)                       # list[Prediction]
    losses = student.example_losses(ckpt, pool)                        # S2L
    student.release()

``train`` runs in this process, or, with ``trainer.num_processes > 1`` / a DeepSpeed config, in
worker processes started by torchrun or the deepspeed launcher; the caller cannot tell which.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

from llm2llm.config import Decoding, StudentConfig, TrainerConfig, to_plain, typed
from llm2llm.errors import ConfigError, Llm2llmError
from llm2llm.example import Example, atomic_write_text
from llm2llm.models import load_model, load_tokenizer, resolve_model
from llm2llm.rundir import COMPLETE_FILE, TRAINING_SUMMARY_FILE
from llm2llm.student.predict import Prediction

COMPLETE = COMPLETE_FILE
TRAINING_SUMMARY = TRAINING_SUMMARY_FILE
#: fewer real (lr > 0) optimizer updates than this and a training run is reported as barely trained
FEW_UPDATES = 5

log = logging.getLogger("llm2llm.student")

__all__ = ["Student", "Prediction", "COMPLETE", "is_complete"]


def is_complete(ckpt: Path) -> bool:
    """A checkpoint folder counts only once its marker exists (written last, just before the rename)."""
    return (Path(ckpt) / COMPLETE).is_file()


class Student:
    """One student model configuration bound to a task; loads models lazily and caches one at a time."""

    def __init__(self, student_cfg: Any, trainer_cfg: Any, task: Any, cache_dir: str, seed: int) -> None:
        # plain dicts with every key of the schemas: they travel as JSON to the training processes
        self.cfg: dict[str, Any] = to_plain(typed(StudentConfig, student_cfg))
        self.trainer: dict[str, Any] = to_plain(typed(TrainerConfig, trainer_cfg))
        self.task = task
        self.cache_dir = str(Path(cache_dir).expanduser())
        self.seed = seed
        self._model_path: str | None = None
        self._tokenizer: Any = None
        self._loaded: tuple[str | None, Any] | None = None  # (checkpoint, model)
        self._replicas: tuple[list[str], list[Any]] | None = None  # (devices, the loaded model on each)
        self._vllm: Any = None  # student.eval_backend=vllm: the engine, kept between evaluations
        self._announced = False  # the line saying how the student is evaluated is printed once
        if self.cfg["eval_backend"] == "vllm":
            from llm2llm.student.vllm_eval import require_vllm

            require_vllm()

    # ----------------------------------------------------------------- loading
    @property
    def model_path(self) -> str:
        """The base model as a loadable path or hub id (the embedded default is materialised once)."""
        if self._model_path is None:
            self._model_path = resolve_model(self.cfg["model"], self.cache_dir)
        return self._model_path

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.model_path, self.cfg["trust_remote_code"])
        return self._tokenizer

    def _model(self, ckpt: Path | None) -> Any:
        """The model for ``ckpt`` (None: base), LoRA adapters merged for fast inference; cached."""
        key = None if ckpt is None else str(Path(ckpt).resolve())
        if self._loaded is not None and self._loaded[0] == key:
            return self._loaded[1]
        self.release()
        import torch

        trust = self.cfg["trust_remote_code"]
        if ckpt is not None and not Path(ckpt).is_dir():
            raise ConfigError(f"{ckpt}: checkpoint folder not found")
        if ckpt is not None and (Path(ckpt) / "adapter_config.json").is_file():
            from peft import PeftModel

            model = PeftModel.from_pretrained(load_model(self.model_path, self.cfg["dtype"], trust), str(ckpt))
            model = model.merge_and_unload()
        else:
            model = load_model(str(ckpt) if ckpt is not None else self.model_path, self.cfg["dtype"], trust)
        if torch.cuda.is_available():
            model = model.to("cuda")
        model.eval()
        self._loaded = (key, model)
        return model

    def _eval_replicas(self, ckpt: Path | None, devices: list[str]) -> list[Any]:
        """The model for ``ckpt`` on every device of ``devices``; built once per loaded checkpoint."""
        from llm2llm.student.multi_device import replicate

        model = self._model(ckpt)  # a new checkpoint: release() dropped the old replicas
        if self._replicas is None or self._replicas[0] != list(devices):
            self._replicas = None
            self._replicas = (list(devices), replicate(model, devices))
        return self._replicas[1]

    def release(self) -> None:
        """Free the loaded model, its replicas and any vLLM engine (the tokenizer is small and kept)."""
        if self._vllm is not None:
            self._vllm.close()
        if self._loaded is not None or self._replicas is not None:
            self._loaded = self._replicas = None
            gc.collect()
            try:
                import torch

                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
            except ImportError:
                pass

    # ---------------------------------------------------------------- training
    def _uses_launcher(self) -> bool:
        t = self.trainer
        return t["num_processes"] > 1 or t["num_nodes"] > 1 or bool(t["deepspeed"])

    def train(self, examples: Sequence[Example], out_dir: Path, init_from: Path | None = None,
              checkpoints: int = 0, save_every: int = 0) -> Path:
        """Fine-tune on ``examples`` from the base weights (or ``init_from``); return the checkpoint to load.

        ``checkpoints`` > 0 also keeps intermediate checkpoints under ``trajectory/`` (S2L): that many
        evenly spaced, or with ``save_every`` the last that many of the saves every save_every steps.

        Built in ``.<name>.tmp`` next to ``out_dir`` and renamed into place with a ``COMPLETE`` marker,
        so a killed run never leaves a folder that looks finished. An already complete ``out_dir``
        is returned at once (resume).
        """
        from llm2llm.student.data import encode, write_encoded
        from llm2llm.student.distributed import run_workers
        from llm2llm.student.train import TrainSpec, resolve_deepspeed_config, run_training

        out_dir = Path(out_dir)
        if is_complete(out_dir):
            return out_dir
        if not examples:
            raise Llm2llmError(f"{out_dir}: no training examples")
        if init_from is not None and not is_complete(Path(init_from)) and not Path(init_from, "config.json").is_file() \
                and not Path(init_from, "adapter_config.json").is_file():
            raise ConfigError(f"init_from {init_from}: not a complete checkpoint")
        deepspeed = resolve_deepspeed_config(self.trainer["deepspeed"])
        tmp = out_dir.with_name(f".{out_dir.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)  # a leftover from a killed run
        work = tmp / "_work"
        work.mkdir(parents=True)
        rows = [{"id": ex.id, **encode(self.tokenizer, self.task, ex, self.cfg["max_length"])} for ex in examples]
        cut = [r.pop("prompt_cut") for r in rows]
        if any(cut):
            log.warning("%d of %d training examples are longer than student.max_length=%d: their prompts lost up to "
                        "%d tokens from the start (targets are kept whole)", sum(c > 0 for c in cut), len(rows),
                        self.cfg["max_length"], max(cut))
        write_encoded(work / "train.jsonl", rows)
        world = self.trainer["num_processes"] * self.trainer["num_nodes"]
        spec = TrainSpec(model_path=self.model_path, data_path=str(work / "train.jsonl"), out_dir=str(tmp),
                         student=self.cfg, trainer=self.trainer, seed=self.seed,
                         init_from=str(init_from) if init_from is not None else None, checkpoints=checkpoints,
                         save_every=save_every,
                         deepspeed=deepspeed, world_size=world, work_dir=str(work))
        self.release()  # training needs the memory
        if self._uses_launcher():
            spec.dump(work / "spec.json")
            run_workers(self.trainer, work / "spec.json", work)
        else:
            run_training(spec)
            gc.collect()
        shutil.rmtree(work)
        atomic_write_text(tmp / COMPLETE, f"trained on {len(examples)} examples\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)  # an incomplete folder from an earlier attempt
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, out_dir)
        summary = self.training_summary(out_dir)
        if summary and summary["real_updates"] < FEW_UPDATES:
            log.warning("training made only %d optimizer update(s) with lr > 0 (%d in all, %d at lr 0 from warmup) on "
                        "%d examples: the model barely changed. Raise trainer.epochs or trainer.max_steps, or lower "
                        "trainer.effective_batch_size / per_device_batch_size", summary["real_updates"],
                        summary["optimizer_updates"], summary["updates_at_lr0"], len(examples))
        return out_dir

    @staticmethod
    def training_summary(ckpt: Path) -> dict[str, Any]:
        """How much training made ``ckpt``: optimizer updates (and how many ran at lr 0), loss, dtypes."""
        path = Path(ckpt) / TRAINING_SUMMARY
        return json.loads(path.read_text()) if path.is_file() else {}

    # -------------------------------------------------------------- evaluation
    def evaluation(self) -> dict[str, Any]:
        """How this student is evaluated (the eval group, auto resolved): printed once, recorded in metrics."""
        from llm2llm.student.evaluation import describe

        return describe(self.task, self.cfg["eval_backend"])

    def predict(self, ckpt: Path | None, examples: Sequence[Example], desc: str = "eval") -> list[Prediction]:
        """One Prediction per example, in order; the eval group (``task.eval``) says how."""
        from llm2llm.student.evaluation import announce, judge_outputs, warn_non_labels
        from llm2llm.student.multi_device import data_parallel, eval_devices

        if not examples:
            return []
        how = self.evaluation()
        mode = how["mode"]
        if not self._announced:
            announce(how)
            self._announced = True
        if self.cfg["eval_backend"] == "vllm":
            from llm2llm.student.vllm_eval import VllmEvaluator

            if mode == "score":
                raise ConfigError("student.eval_backend=vllm generates; label scoring (eval.mode=score, or auto "
                                  "for a task whose prompt does not name its labels) runs on hf")
            if self._vllm is None:
                self._vllm = VllmEvaluator(self.model_path, self.tokenizer, self.cfg, self.seed)
            outputs = self._vllm.generate(ckpt, self.task, examples)
        else:
            devices = eval_devices(self.cfg["eval_devices"])
            if len(devices) > 1:  # every GPU of the node, one replica each, shards joined in input order
                outputs = data_parallel(self._eval_replicas(ckpt, devices), list(examples),
                                        lambda m, part, i: self._evaluate(m, part, mode, f"{desc} [{devices[i]}]"))
            else:
                outputs = self._evaluate(self._model(ckpt), list(examples), mode, desc)
        if mode == "score":  # each output is a label's target: its label is the prediction
            labels = self.task.labels
            return [Prediction(ex.id, o, labels[b], self.task.is_correct(labels[b], ex))
                    for ex, (o, b) in zip(examples, outputs)]
        preds = judge_outputs(self.task, examples, outputs, how["extraction"])
        warn_non_labels(self.task, preds, desc)
        return preds

    def _evaluate(self, model: Any, examples: list[Example], mode: str, desc: str) -> list[Any]:
        """Per example, on the device ``model`` lives on: the raw output (generate), or (the best label's
        target, its index) (score)."""
        from llm2llm.student import predict as P
        from llm2llm.student.evaluation import sampling_seeds

        tok, t, ev = self.tokenizer, self.trainer, self.task.eval
        if mode == "score":
            best = P.score_labels(model, tok, self.task, examples, batch_size=t["eval_batch_size"],
                                  max_length=self.cfg["max_length"], desc=desc)
            return [(self.task.label_targets(ex)[b], b) for ex, (b, _) in zip(examples, best)]
        sample = ev.decoding == Decoding.sample
        return P.generate(model, tok, self.task, examples, batch_size=t["eval_batch_size"],
                          max_new_tokens=self.task.max_new_tokens, max_length=self.cfg["max_length"],
                          do_sample=sample, temperature=ev.temperature, top_k=ev.top_k, top_p=ev.top_p,
                          seeds=sampling_seeds(self.seed, examples) if sample else None, desc=desc)

    def example_losses(self, ckpt: Path | None, examples: Sequence[Example]) -> list[float]:
        """Mean loss over each example's target tokens (NaN if truncation left it no target token)."""
        from llm2llm.student.predict import example_losses

        if not examples:
            return []
        return example_losses(self._model(ckpt), self.tokenizer, self.task, examples,
                              batch_size=self.trainer["eval_batch_size"], max_length=self.cfg["max_length"])
