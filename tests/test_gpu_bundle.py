"""The wheel bundle for a GPU machine without network (llm2llm/preflight/bundle.py, scripts/gpu_bundle.sh).

Offline, as every test: the bundle is built from this environment's installed files (``--offline``:
compiled ones for this interpreter; for the GPU machine the script downloads those for Python 3.12),
installed with the install line the GPU script uses into a clean target, and the harness is imported
in an interpreter that sees only that target, the repository and a stand-in for the GPU image: this
environment's distributions that the image also has (symlinked), nothing else.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def image_standin(folder: Path) -> Path:
    """Symlinks to the top-level files of this environment's distributions that the GPU image has."""
    from llm2llm.preflight.bundle import GPU_IMAGE, norm

    folder.mkdir()
    for dist in md.distributions():
        if norm(dist.metadata["Name"] or "") not in GPU_IMAGE:
            continue
        base = Path(str(dist.locate_file(""))).resolve()
        for top in {f.parts[0] for f in dist.files or [] if f.parts and f.parts[0] != ".."}:
            src, dst = base / top, folder / top
            if src.exists() and not dst.exists():
                dst.symlink_to(src)
    return folder


@pytest.mark.slow  # pip-installs the bundle into a fresh target
def test_bundle_installs_into_a_clean_target_and_the_harness_imports(tmp_path):
    from llm2llm.preflight.bundle import INSTALL_LINE, build

    wheels = build(tmp_path / "whl", offline=True)
    names = {w.name.split("-")[0].lower() for w in wheels}
    assert {"hydra_core", "omegaconf", "antlr4_python3_runtime", "deepspeed", "datasets"} <= names
    assert not names & {"torch", "transformers", "peft", "accelerate", "wandb"}  # the machine's own / left out
    assert "pip install" in (tmp_path / "whl" / "BUNDLE.txt").read_text()
    site = tmp_path / "site"
    subprocess.run(INSTALL_LINE.format(target=site, wheels=tmp_path / "whl"), shell=True, check=True)

    image = image_standin(tmp_path / "image")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT), str(image)])
    code = ("import json, hydra, omegaconf, deepspeed, datasets, torch, transformers;"
            "import llm2llm.config, llm2llm.student.train, llm2llm.student.predict, llm2llm.preflight.__main__;"
            "print(json.dumps({m.__name__: m.__file__ for m in (hydra, omegaconf, deepspeed, datasets, torch, transformers)}))")
    proc = subprocess.run([sys.executable, "-S", "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    where = json.loads(proc.stdout.strip().splitlines()[-1])
    for bundled in ("hydra", "omegaconf", "deepspeed", "datasets"):
        assert where[bundled].startswith(str(site)), where
    for own in ("torch", "transformers"):
        assert where[own].startswith(str(image)), where

    # the preflight runs there too: Hydra (from the bundle) composes the recipe and a paper sweep
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-S", "-m", "llm2llm.preflight", "--out", str(out), "--only",
                           "environment,projection", "--sweep", str(ROOT / "sweeps" / "paper_gsm8k.yaml")],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    report = json.loads((out / "preflight.json").read_text())
    status = {c["name"]: c["status"] for c in report["checks"]}
    assert status["environment"] == status["projection"] == "ok"
    assert report["checks"][0]["metrics"]["versions"]["hydra-core"] == md.version("hydra-core")
