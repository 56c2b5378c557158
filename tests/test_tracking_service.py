"""A run whose W&B run is already open in the W&B service it inherited stops with one error line.

The real W&B SDK and service, offline: a holder process opens the run (W&B then exports
``WANDB_SERVICE`` in it), and a ``train.py`` started with the holder's ``WANDB_SERVICE`` resumes the
same run directory, as a train.py started by a process that uses W&B itself would."""

from __future__ import annotations

import subprocess
import sys

from cli_helpers import error_line, train_env, train_py

HOLDER = """
import os, sys, time, wandb
run = wandb.init(project="held", id="heldrun12345", mode="offline", dir=sys.argv[1], resume="allow")
print(os.environ["WANDB_SERVICE"], flush=True)
sys.stdin.read()  # hold the run open until the test closes stdin
run.finish()
"""


def test_a_run_already_open_in_an_inherited_wandb_service_is_one_error_line(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "wandb_id.txt").write_text("heldrun12345")
    env = train_env(WANDB_MODE="offline", WANDB_DIR=str(tmp_path))
    env.pop("WANDB_SERVICE", None)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        service = holder.stdout.readline().strip()
        assert service, "the holder process did not start a W&B service"
        proc = train_py("task=sst2", "task.seed_size=4", "task.test_size=4", "method=finetune",
                        f"hydra.run.dir={run_dir}", "tracking.project=held", env={**env, "WANDB_SERVICE": service})
        line = error_line(proc)
        assert "W&B run heldrun12345 is already open" in line and "unset WANDB_SERVICE" in line
        assert not (run_dir / "iter_0").exists()  # stopped before any training
    finally:
        holder.stdin.close()
        holder.wait(timeout=120)


def test_auto_mode_follows_wandb_mode_then_the_api_key():
    """tracking.mode=auto: W&B's own WANDB_MODE wins (offline with a key set: a cluster job told to log
    offline must not go online); without it, a key means online, no key offline. A mode given in the
    config is used as given."""
    from llm2llm.tracking import wandb_mode

    assert wandb_mode("auto", {"WANDB_MODE": "offline", "WANDB_API_KEY": "k"}) == "offline"
    assert wandb_mode("auto", {"WANDB_MODE": "online"}) == "online"
    assert wandb_mode("auto", {"WANDB_API_KEY": "k"}) == "online"
    assert wandb_mode("auto", {"WANDB_MODE": "dryrun"}) == "offline"  # not a mode the harness knows: as if unset
    assert wandb_mode("auto", {}) == "offline"
    assert wandb_mode("online", {"WANDB_MODE": "offline"}) == "online"
