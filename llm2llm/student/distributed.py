"""Start ``llm2llm.student.worker`` on several processes (torchrun or the deepspeed launcher).

Single node: ``torchrun --nproc_per_node N`` (or ``deepspeed --num_gpus N``) on a free local port.
Several nodes: the deepspeed launcher with ``trainer.hostfile`` (it reaches the other nodes over
pdsh/ssh; the run directory must be on a shared filesystem), or torchrun with the standard
``MASTER_ADDR`` / ``MASTER_PORT`` / ``NODE_RANK`` environment variables when a scheduler starts the
harness on every node. On a machine without CUDA the ranks use gloo and DeepSpeed's CPU accelerator.
"""

from __future__ import annotations

import os
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


def launch_command(trainer: dict[str, Any], spec_path: Path) -> list[str]:
    """The launcher command line for ``trainer.num_processes`` ranks per node."""
    n, nodes = trainer["num_processes"], trainer.get("num_nodes", 1)
    worker = ["llm2llm.student.worker", str(spec_path)]
    if trainer["launcher"] == "deepspeed":
        cmd = [sys.executable, "-m", "deepspeed.launcher.runner", "--num_gpus", str(n)]
        if trainer.get("hostfile"):
            if not Path(trainer["hostfile"]).expanduser().is_file():
                raise ConfigError(f"trainer.hostfile: {trainer['hostfile']} not found")
            cmd += ["--hostfile", str(Path(trainer["hostfile"]).expanduser()), "--num_nodes", str(nodes)]
        if os.environ.get("MASTER_ADDR") and nodes > 1:
            cmd += ["--master_addr", os.environ["MASTER_ADDR"]]
        port = os.environ.get("MASTER_PORT") if nodes > 1 else None
        return cmd + ["--master_port", str(port or free_port()), "--module"] + worker
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(n), "--nnodes", str(nodes)]
    if nodes > 1:
        missing = [v for v in ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK") if not os.environ.get(v)]
        if missing:
            raise ConfigError(f"trainer.num_nodes={nodes} with launcher=torchrun needs the environment variables "
                              f"{missing} (set by your scheduler), or use trainer.launcher=deepspeed with trainer.hostfile")
        cmd += ["--node_rank", os.environ["NODE_RANK"], "--master_addr", os.environ["MASTER_ADDR"],
                "--master_port", os.environ["MASTER_PORT"]]
    else:
        cmd += ["--master_addr", "127.0.0.1", "--master_port", str(free_port())]
    return cmd + ["-m"] + worker


def worker_env(trainer: dict[str, Any]) -> dict[str, str]:
    import torch

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    if trainer["num_processes"] > 1:
        env["OMP_NUM_THREADS"] = "1"  # one thread per rank; several ranks share the cores
    if not torch.cuda.is_available():
        env.setdefault("DS_ACCELERATOR", "cpu")
    return env


def run_workers(trainer: dict[str, Any], spec_path: Path, work_dir: Path) -> None:
    """Run the worker on every rank; raise a one-line error if any rank fails."""
    env = worker_env(trainer)
    if trainer["num_processes"] == 1 and trainer.get("num_nodes", 1) == 1:
        # A DeepSpeed config in one process: no launcher, so give DeepSpeed the rendezvous variables
        # itself (otherwise it tries MPI discovery).
        env.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
        cmd = [sys.executable, "-m", "llm2llm.student.worker", str(spec_path)]
    else:
        cmd = launch_command(trainer, spec_path)
    rc = subprocess.run(cmd, env=env, cwd=os.getcwd()).returncode
    error = work_dir / "error.txt"
    if error.is_file():
        message = error.read_text().strip()
        raise (StudentOOMError if message == OOM_HINT else Llm2llmError)(message)
    if rc == -signal.SIGKILL or rc == 128 + signal.SIGKILL:
        raise StudentOOMError(f"a training process was killed (SIGKILL; usually the kernel's OOM killer): {OOM_HINT}")
    if rc != 0:
        raise RuntimeError(f"training worker failed with exit code {rc}: {' '.join(cmd)} (see its output above)")
