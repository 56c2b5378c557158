"""Start ``llm2llm.student.worker`` on several processes (torchrun or the deepspeed launcher).

One orchestrator: the harness runs in exactly one process, which does the teacher calls, the
evaluation, the run directory and W&B; training ranks only train and write a checkpoint. For a
training run the orchestrator starts the ranks itself:

- one node: ``torchrun --nproc_per_node N`` (or ``deepspeed --num_gpus N``) on a free local port;
- several nodes (``trainer.num_nodes``), by ``trainer.node_launcher``:
  ``srun`` (SLURM: one torchrun per node of the job's allocation, node rank = ``$SLURM_NODEID``,
  rendezvous at this host), ``local`` (every "node" a torchrun on this machine: how the
  multi-node path is tested on a laptop), or the deepspeed launcher with ``trainer.hostfile``
  (pdsh/ssh). The run directory must be on a filesystem every node sees.

On a machine without CUDA the ranks use gloo and DeepSpeed's CPU accelerator.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from llm2llm.errors import ConfigError, Llm2llmError
from llm2llm.student.train import OOM_HINT, StudentOOMError

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(trainer: dict[str, Any], node_rank: str, master_addr: str, port: int, spec_path: Path) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(trainer["num_processes"]),
            "--nnodes", str(trainer.get("num_nodes", 1)), "--node_rank", node_rank, "--master_addr", master_addr,
            "--master_port", str(port), "-m", "llm2llm.student.worker", str(spec_path)]


def launch_commands(trainer: dict[str, Any], spec_path: Path) -> list[list[str]]:
    """The commands that start every training rank (run together; each node's share is one command)."""
    n, nodes = trainer["num_processes"], trainer.get("num_nodes", 1)
    if trainer["launcher"] == "deepspeed":
        cmd = [sys.executable, "-m", "deepspeed.launcher.runner", "--num_gpus", str(n)]
        if nodes > 1:
            if not trainer.get("hostfile"):
                raise ConfigError(f"trainer.num_nodes={nodes} with launcher=deepspeed needs trainer.hostfile "
                                  "(or use launcher=torchrun with trainer.node_launcher=srun)")
            if not Path(trainer["hostfile"]).expanduser().is_file():
                raise ConfigError(f"trainer.hostfile: {trainer['hostfile']} not found")
            cmd += ["--hostfile", str(Path(trainer["hostfile"]).expanduser()), "--num_nodes", str(nodes),
                    "--master_addr", socket.gethostname()]
        return [cmd + ["--master_port", str(free_port()), "--module", "llm2llm.student.worker", str(spec_path)]]
    if nodes == 1:
        return [_torchrun(trainer, "0", "127.0.0.1", free_port(), spec_path)]
    how = trainer.get("node_launcher", "srun")
    if how == "local":
        port = free_port()
        return [_torchrun(trainer, str(r), "127.0.0.1", port, spec_path) for r in range(nodes)]
    if how == "srun":
        if not os.environ.get("SLURM_JOB_ID"):
            raise ConfigError(f"trainer.num_nodes={nodes} with trainer.node_launcher=srun runs inside a SLURM job "
                              "(hydra/launcher=slurm); on one machine use trainer.node_launcher=local")
        per_node = " ".join(shlex.quote(a) for a in _torchrun(trainer, "$SLURM_NODEID", socket.gethostname(),
                                                              free_port(), spec_path))
        per_node = per_node.replace(shlex.quote("$SLURM_NODEID"), '"$SLURM_NODEID"')
        return [["srun", "--overlap", f"--nodes={nodes}", "--ntasks-per-node=1", "--kill-on-bad-exit=1",
                 "bash", "-c", f"exec {per_node}"]]
    raise ConfigError(f"trainer.node_launcher: srun | local, got {how!r}")


def _count_ids(value: str) -> int:
    """How many devices a list like ``0,1,4-7`` (SLURM) or ``GPU-uuid,GPU-uuid`` (CUDA) names."""
    n = 0
    for part in filter(None, (p.strip() for p in value.split(","))):
        lo, dash, hi = part.partition("-")
        n += int(hi) - int(lo) + 1 if dash and lo.isdigit() and hi.isdigit() else 1
    return n


def reserved_gpus() -> tuple[int, str] | None:
    """(GPUs SLURM gave this node, the variable that says so); None outside a SLURM job or in a job without GPUs."""
    if not os.environ.get("SLURM_JOB_ID"):
        return None
    for var in ("SLURM_GPUS_ON_NODE", "SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "CUDA_VISIBLE_DEVICES"):
        value = os.environ.get(var, "").strip()
        if value and value not in ("-1", "NoDevFiles"):
            return (int(value), var) if value.isdigit() and var == "SLURM_GPUS_ON_NODE" else (_count_ids(value), var)
    return None


def check_reserved_gpus(trainer: dict[str, Any]) -> None:
    """ConfigError (one line) when the GPUs this job got and the training ranks it will start disagree.

    The SLURM launcher reserves ``trainer.num_processes`` GPUs on each of ``trainer.num_nodes`` nodes
    (conf/hydra/launcher/slurm.yaml), so they agree unless the reservation was changed by hand, the
    job was submitted another way, or the node shows another number of GPUs.
    """
    n, nodes = trainer["num_processes"], trainer.get("num_nodes", 1)
    got = reserved_gpus()
    if got is not None and got[0] != n:
        raise ConfigError(f"trainer.num_processes={n} training ranks per node, but SLURM reserved {got[0]} GPU(s) "
                          f"on this node ({got[1]}): set the reservation from the trainer (conf/hydra/launcher/"
                          "slurm.yaml: gpus_per_node: ${trainer.num_processes}) or change trainer.num_processes")
    slurm_nodes = os.environ.get("SLURM_JOB_NUM_NODES") or os.environ.get("SLURM_NNODES")
    if os.environ.get("SLURM_JOB_ID") and slurm_nodes and slurm_nodes.isdigit() and int(slurm_nodes) != nodes:
        raise ConfigError(f"trainer.num_nodes={nodes}, but the SLURM job has {slurm_nodes} node(s) "
                          "(conf/hydra/launcher/slurm.yaml: nodes: ${trainer.num_nodes})")
    if n <= 1:  # one rank fits any node; torch (seconds to import) is not needed to say so
        return
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available() and torch.cuda.device_count() < n:
        raise ConfigError(f"trainer.num_processes={n} training ranks, but this node has {torch.cuda.device_count()} "
                          "visible GPU(s) (CUDA_VISIBLE_DEVICES / the GPUs of the machine)")


def is_orchestrator() -> bool:
    """False in the extra harness tasks SLURM starts on the other nodes of a multi-node job."""
    return os.environ.get("SLURM_PROCID", "0") == "0"


def worker_env(trainer: dict[str, Any]) -> dict[str, str]:
    import torch

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    local_nodes = trainer.get("num_nodes", 1) > 1 and trainer.get("node_launcher") == "local"
    if trainer["num_processes"] > 1 or local_nodes:
        env["OMP_NUM_THREADS"] = "1"  # one thread per rank: several ranks share this machine's cores
    if not torch.cuda.is_available():
        env.setdefault("DS_ACCELERATOR", "cpu")
    return env


def _run_together(cmds: list[list[str]], env: dict[str, str]) -> tuple[int, list[str]]:
    """Run the commands at once; if one fails, stop the others (they would wait for it forever)."""
    import time

    procs = [subprocess.Popen(c, env=env, cwd=os.getcwd()) for c in cmds]
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = next((i for i, c in enumerate(codes) if c not in (None, 0)), None)
            if failed is not None:
                return codes[failed], cmds[failed]
            if all(c == 0 for c in codes):
                return 0, cmds[0]
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()


def run_workers(trainer: dict[str, Any], spec_path: Path, work_dir: Path) -> None:
    """Run the worker on every rank; raise a one-line error if any rank fails."""
    env = worker_env(trainer)
    if trainer["num_processes"] == 1 and trainer.get("num_nodes", 1) == 1:
        # A DeepSpeed config in one process: no launcher, so give DeepSpeed the rendezvous variables
        # itself (otherwise it tries MPI discovery).
        env.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
        cmds = [[sys.executable, "-m", "llm2llm.student.worker", str(spec_path)]]
    else:
        cmds = launch_commands(trainer, spec_path)
    rc, cmd = _run_together(cmds, env)
    error = work_dir / "error.txt"
    if error.is_file():
        message = error.read_text().strip()
        raise (StudentOOMError if message == OOM_HINT else Llm2llmError)(message)
    if rc == -signal.SIGKILL or rc == 128 + signal.SIGKILL:
        raise StudentOOMError(f"a training process was killed (SIGKILL; usually the kernel's OOM killer): {OOM_HINT}")
    if rc != 0:
        raise RuntimeError(f"training worker failed with exit code {rc}: {' '.join(cmd)} (see its output above)")
