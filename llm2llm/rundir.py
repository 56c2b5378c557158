"""The run directory: every stage's output, written atomically, so a killed run resumes.

Layout (``<run>`` is Hydra's output dir)::

    config.json            resolved config (no secrets: the config only names the key's env var)
    environment.json       git SHA, package versions, machine (of the process that finished the run;
                           ``earlier``: of the processes that worked on it before, if it was resumed)
    seed_set.jsonl         D_0's seed examples
    s2l/                   the S2L proxy's training and losses (task.seed_selection=s2l)
    iter_0/initial_stats.json   what made D_0 (a baseline's augmentation, a matched budget)
    iter_<i>/train.jsonl   D_i with provenance
    iter_<i>/checkpoint/   the student trained on D_i (COMPLETE marker when whole; training.json and
                           train_log.json: the training's summary and per-step log)
    iter_<i>/predictions_test.jsonl, predictions_seed.jsonl
    iter_<i>/augmentations.jsonl, teacher_records.jsonl, teacher_stats.json   (A_i)
    iter_<i>/timings.json  each finished stage's wall time
    iter_<i>/metrics.json  written last: the iteration is finished
    results.json           every iteration's metrics; read by the report without W&B (``Results``)
    wandb_id.txt           the W&B run id, so a resumed run continues the same W&B run
    RUNNING                the claim of the job working in the directory (host, pid, start time)
    FAILED.txt             why the last attempt failed (a multirun goes on with its other jobs)

One directory, one job: ``acquire`` creates ``RUNNING`` with ``O_CREAT | O_EXCL``, which is atomic on
local filesystems and on NFS v3+, so two jobs started at the same moment (on one node or two) can
never both hold it. A claim left behind by a killed job on this host (its pid is gone) is taken
over, so resuming a killed run needs nothing; one from another host is refused until it is older
than ``LLM2LLM_STALE_CLAIM_HOURS`` (default 48) or deleted by hand. A claim records the SLURM job
it was made in: a SLURM job that was requeued (preempted or timed out; the same job, or the same
array job and task, often on another node) takes over its own earlier claim at once.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from llm2llm.errors import ConfigError, DataError
from llm2llm.example import atomic_write_json, atomic_write_text, dumps_jsonl, iter_jsonl

T = TypeVar("T")

# The names of the files above: every module that reads or writes one names it through these.
CONFIG_FILE = "config.json"
ENVIRONMENT_FILE = "environment.json"
SEED_SET_FILE = "seed_set.jsonl"
RESULTS_FILE = "results.json"
CLAIM_FILE = "RUNNING"
FAILED_FILE = "FAILED.txt"
WANDB_ID_FILE = "wandb_id.txt"
S2L_DIR = "s2l"
#: in ``iter_<i>/``
TRAIN_FILE = "train.jsonl"
CHECKPOINT_DIR = "checkpoint"
PREDICTIONS_TEST_FILE = "predictions_test.jsonl"
PREDICTIONS_SEED_FILE = "predictions_seed.jsonl"
AUGMENTATIONS_FILE = "augmentations.jsonl"
TEACHER_RECORDS_FILE = "teacher_records.jsonl"
TEACHER_STATS_FILE = "teacher_stats.json"
INITIAL_STATS_FILE = "initial_stats.json"  # iter_0 only
TIMINGS_FILE = "timings.json"
METRICS_FILE = "metrics.json"
#: in ``iter_<i>/checkpoint/`` (written by llm2llm.student.train)
COMPLETE_FILE = "COMPLETE"
TRAINING_SUMMARY_FILE = "training.json"
TRAIN_LOG_FILE = "train_log.json"

ITER_PREFIX = "iter_"


def iter_name(i: int) -> str:
    """``iter_<i>``: the folder of iteration ``i``."""
    return f"{ITER_PREFIX}{i}"


def iter_file(i: int, name: str) -> str:
    """``iter_<i>/<name>``, relative to the run directory (what ``RunDir.read_json`` takes)."""
    return f"{iter_name(i)}/{name}"


def iter_number(folder: Path) -> int | None:
    """``i`` for a folder named ``iter_<i>``, else None."""
    rest = folder.name[len(ITER_PREFIX):]
    return int(rest) if folder.name.startswith(ITER_PREFIX) and rest.isdigit() else None


#: config keys (dotted: a whole group or one key in it) that do not change what a run computes:
#: paths on this machine, logging, where and how fast the teacher is reached (same model, other
#: host). Setting one neither names another run directory (conf/config.yaml lists them in
#: hydra.job.config.override_dirname.exclude_keys; a test keeps the two lists in step) nor makes a
#: resumed run's directory "another config's", nor separates runs the report averages.
NON_RESULT_KEYS = ("tracking", "data_dir", "cache_dir", "run_name", "teacher.cache_path", "teacher.base_url",
                   "teacher.api_key_env", "teacher.concurrency", "teacher.timeout_s", "teacher.max_retries",
                   "teacher.self_check", "trainer.eval_batch_size", "trainer.logging_steps")


def _drop(config: dict[str, Any], dotted: str) -> dict[str, Any]:
    head, _, rest = dotted.partition(".")
    if head not in config:
        return config
    if not rest:
        return {k: v for k, v in config.items() if k != head}
    if not isinstance(config[head], dict):
        return config
    return {**config, head: _drop(config[head], rest)}


def result_config(config: dict[str, Any], uses_teacher: bool) -> dict[str, Any]:
    """The part of a config that determines a run's results: the teacher group only where the
    method uses one (``Method.needs_teacher``)."""
    for key in NON_RESULT_KEYS + (() if uses_teacher else ("teacher",)):
        config = _drop(config, key)
    return config


def config_diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b)):
            out += config_diff(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


class RunDirHeld(ConfigError):
    """Another live job holds the run directory."""


class RunDirTaken(ConfigError):
    """The run directory holds the results of a different config."""


#: the environment variables that name a SLURM job: a requeued job keeps SLURM_JOB_ID, a requeued
#: array task keeps SLURM_ARRAY_JOB_ID and SLURM_ARRAY_TASK_ID; SLURM_RESTART_COUNT counts requeues
SLURM_VARS = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT")


def slurm_job(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The SLURM job this process runs in (empty outside SLURM), as recorded in a claim."""
    env = os.environ if env is None else env
    return {k: env[k] for k in SLURM_VARS if env.get(k)}


def same_slurm_job(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two claims' SLURM records name one job: the same array job and task, or (not an
    array) the same job id. A job requeued by SLURM keeps these, whichever node it lands on."""
    if a.get("SLURM_ARRAY_JOB_ID") or b.get("SLURM_ARRAY_JOB_ID"):
        keys: tuple[str, ...] = ("SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID")
    else:
        keys = ("SLURM_JOB_ID",)
    return all(a.get(k) for k in keys) and all(str(a.get(k)) == str(b.get(k)) for k in keys)


def slurm_name(job: Mapping[str, Any]) -> str:
    """How SLURM names a job: ``<array job>_<task>`` for an array task, else the job id."""
    if job.get("SLURM_ARRAY_JOB_ID"):
        return f"{job['SLURM_ARRAY_JOB_ID']}_{job.get('SLURM_ARRAY_TASK_ID')}"
    return str(job.get("SLURM_JOB_ID"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._claimed = False

    def iter_dir(self, i: int) -> Path:
        return self.path / iter_name(i)

    def results(self) -> "Results | None":
        """The run's results.json (None until the run has finished; see :func:`read_results`)."""
        return read_results(self.path / RESULTS_FILE)

    def acquire(self) -> None:
        """Hold the directory for this process, or raise ConfigError naming the job that holds it."""
        self.path.mkdir(parents=True, exist_ok=True)
        lock = self.path / CLAIM_FILE
        me: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        if slurm_job():
            me["slurm"] = slurm_job()
        for _ in range(3):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder(lock)
                if holder is None:
                    continue  # released (or unreadable and removed) in between: try again
                job = holder.get("slurm")
                job_text = f"SLURM job {slurm_name(job)}, " if isinstance(job, dict) and job else ""
                raise RunDirHeld(
                    f"{self.path} is held by another job ({job_text}pid {holder.get('pid')} on {holder.get('host')}, "
                    f"since {time.strftime('%Y-%m-%d %H:%M', time.localtime(holder.get('since', 0)))}); two jobs never "
                    f"share a run directory. If that job is dead, delete {lock}")
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self._claimed = True
            return
        raise ConfigError(f"{self.path}: could not claim {lock} (it keeps reappearing)")

    @staticmethod
    def _holder(lock: Path) -> dict[str, Any] | None:
        """The live holder of a claim, or None after removing a stale one."""
        try:
            holder = json.loads(lock.read_text())
        except FileNotFoundError:
            return None
        except json.JSONDecodeError:  # a claim being written right now (still empty), or a torn one
            try:
                age = time.time() - lock.stat().st_mtime
            except FileNotFoundError:
                return None
            if age < 60:
                return {"host": "?", "pid": "?", "since": time.time() - age}
            holder = {}
        stale_after = float(os.environ.get("LLM2LLM_STALE_CLAIM_HOURS", "48")) * 3600
        same_host = holder.get("host") == socket.gethostname()
        pid = holder.get("pid")
        alive_here = same_host and isinstance(pid, int) and _pid_alive(pid)
        slurm = holder.get("slurm")
        requeued = isinstance(slurm, dict) and same_slurm_job(slurm, slurm_job()) and not alive_here
        dead = (same_host and isinstance(pid, int) and not alive_here) or not holder or requeued \
            or time.time() - float(holder.get("since", 0)) > stale_after
        if not dead:
            return holder
        lock.unlink(missing_ok=True)
        return None

    def release(self) -> None:
        """Remove this process's claim; one another job has taken over since (a requeued SLURM job
        starting while this one winds down) is left alone."""
        if self._claimed:
            lock = self.path / CLAIM_FILE
            try:
                holder = json.loads(lock.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                holder = None
            mine = (socket.gethostname(), os.getpid())
            if isinstance(holder, dict) and (holder.get("host"), holder.get("pid")) == mine:
                lock.unlink(missing_ok=True)
            self._claimed = False

    def record_failure(self, message: str) -> bool:
        """Write why this job failed (``FAILED.txt``), only while holding the directory: never into one
        another live job works in. False if it was held."""
        try:
            self.acquire()
        except RunDirHeld:
            return False
        try:
            atomic_write_text(self.path / FAILED_FILE, message.rstrip() + "\n")
        finally:
            self.release()
        return True

    def claim(self, config: dict[str, Any], environment: dict[str, Any], uses_teacher: bool,
              read_back: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        """Record this run's config, or refuse if the directory holds a different config's results
        (``uses_teacher``: whether the run's method uses the teacher, whose config then counts).
        ``read_back`` puts both configs in today's form before they are compared (the harness passes
        llm2llm.main.as_read_today: a setting added since the directory was written takes its default),
        so a new setting that leaves results as they were does not orphan existing runs. The environment
        is recorded by a run that still has work to do; a finished run keeps the one that made it."""
        cfg_file = self.path / CONFIG_FILE
        if cfg_file.is_file():
            old = json.loads(cfg_file.read_text())
            if read_back is not None:
                old, config = read_back(old), read_back(config)
            diff = config_diff(result_config(old, uses_teacher), result_config(config, uses_teacher))
            if diff:
                raise RunDirTaken(
                    f"{self.path} holds the results of a different config (differs in: {', '.join(diff[:8])}); "
                    "refusing to mix them. Start fresh with another directory (hydra.run.dir=... or "
                    "LLM2LLM_RUNS_DIR=...), or delete that one."
                )
        else:
            atomic_write_json(cfg_file, config)
        done = self.results()
        if done is None or not done.complete:
            atomic_write_json(self.path / ENVIRONMENT_FILE, self._resumed_environment(environment))

    def _resumed_environment(self, environment: dict[str, Any]) -> dict[str, Any]:
        """This process's environment, with those of the processes that worked on the run before it
        (``earlier``, oldest first): a run resumed at another commit or on another machine says so."""
        before = self.read_json(ENVIRONMENT_FILE)
        if not isinstance(before, dict):
            return environment
        earlier = before.pop("earlier", [])
        shas = {e.get("git_sha") for e in earlier + [before]} - {environment.get("git_sha")}
        if shas:
            print(f"note: {self.path} was worked on at commit {', '.join(sorted(map(str, shas)))} before this one "
                  f"({environment.get('git_sha')}); {ENVIRONMENT_FILE} lists each process", file=sys.stderr)
        return {**environment, "earlier": earlier + [before]}

    def stage(self, path: Path, compute: Callable[[], T], save: Callable[[Path, T], None],
              load: Callable[[Path], T]) -> T:
        """Return the stage's saved output if it exists, else compute it and save it atomically."""
        if path.exists():
            return load(path)
        value = compute()
        save(path, value)
        return value

    def read_json(self, name: str) -> Any:
        """A JSON file of the directory (``name`` relative to it); None if absent."""
        p = self.path / name
        return json.loads(p.read_text()) if p.is_file() else None

    def write_json(self, name: str, obj: Any) -> None:
        atomic_write_json(self.path / name, obj)

    @staticmethod
    def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
        atomic_write_text(path, dumps_jsonl(rows))


class ResultsError(DataError):
    """A results.json that cannot be read."""


@dataclass(frozen=True)
class Results:
    """A run's results.json, as llm2llm.main writes it when the run finishes: ``status``,
    ``iterations`` (each iteration's metrics.json), ``final_test_accuracy``, ``total_augmented``,
    ``initial_augmentation``, ``seed``, ``seed_size``, ``task``, ``method``, ``config`` and more."""

    path: Path
    data: dict[str, Any]

    @property
    def status(self) -> Any:
        return self.data.get("status")

    @property
    def complete(self) -> bool:
        """Finished: every iteration ran (an incomplete run's numbers can still change)."""
        return self.status == "complete"

    @property
    def last_iteration(self) -> int:
        return self.data["iterations"][-1]["iteration"]


def read_results(path: Path) -> Results | None:
    """The results file at ``path``: None where there is none (the run has not finished),
    ResultsError (naming the file) where it is not JSON or not a JSON object."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ResultsError(f"{path} is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return Results(path, data)


def read_predictions(path: Path) -> dict[str, bool] | None:
    """{example id: correct} of a predictions file (``predictions_test.jsonl``), None where there is none."""
    if not Path(path).is_file():
        return None
    out: dict[str, bool] = {}
    for n, row in iter_jsonl(path):
        try:
            out[str(row["id"])] = bool(row["correct"])
        except KeyError as e:
            raise DataError(f"{path}:{n}: expected a JSON row with id and correct ({e})") from None
    return out


def final_predictions(run_dir: Path, results: dict[str, Any]) -> dict[str, bool] | None:
    """{test example id: correct} of a finished run's last iteration (None where the file is missing)."""
    last = results["iterations"][-1]["iteration"]
    return read_predictions(Path(run_dir) / iter_name(last) / PREDICTIONS_TEST_FILE)
