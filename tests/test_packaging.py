"""pyproject.toml declares version ranges, constraints.txt the tested versions, and make install uses
the latter. Offline checks (tests never reach the package index); pip's resolver against the index,
for the package with lm-eval and with the vllm extra, is scripts/check_resolution.sh, whose last
run is in docs/installing.md."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import tomllib

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

#: declared but never imported by llm2llm's own code: what needs them at run time
RUNTIME_ONLY = {
    "deepspeed": "the Trainer's ZeRO path (trainer.deepspeed) and the deepspeed launcher",
    "gguf": "transformers reads the embedded GGUF student with it (models.py, gguf_file=...)",
}
IMPORT_NAMES = {"hydra-core": "hydra", "rouge-score": "rouge_score", "scikit-learn": "sklearn", "pyyaml": "yaml"}


def constraints() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def requirements() -> list[Requirement]:
    reqs = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra, items in PROJECT["optional-dependencies"].items():
        reqs += [Requirement(r) for r in items]
    return reqs


def test_dependencies_are_ranges_not_pins():
    for r in (Requirement(x) for x in PROJECT["dependencies"]):
        ops = {s.operator for s in r.specifier}
        assert ops and not ops & {"==", "==="}, f"{r}: a range, please (the exact version goes in constraints.txt)"


def test_every_tested_version_lies_in_its_declared_range():
    pins = constraints()
    not_pinned = {"vllm"}  # a GPU machine's extra: resolved by scripts/check_resolution.sh, not pinned here
    for r in requirements():
        name = canonicalize_name(r.name)
        if name in not_pinned:
            continue
        assert name in pins, f"{r.name} is declared in pyproject.toml but has no tested version in constraints.txt"
        assert r.specifier.contains(pins[name], prereleases=True), \
            f"constraints.txt pins {r.name}=={pins[name]}, outside pyproject.toml's {r.specifier}"


def test_vllm_extra_allows_only_releases_that_take_the_tested_torch():
    """vLLM pins torch exactly (its metadata: 0.27.0-0.30.0 torch==2.13.0, 0.26 torch 2.11, 0.33 torch 2.14,
    0.31 / 0.32 cap transformers below 5.18 / 5.20): the extra's range must stay inside 0.27-0.30.x
    while constraints.txt pins torch 2.13 and transformers 5.23."""
    (vllm,) = [Requirement(x) for x in PROJECT["optional-dependencies"]["vllm"]]
    pins = constraints()
    assert pins["torch"].release[:2] == (2, 13) and pins["transformers"] >= Version("5.20")
    for v in ("0.27.0", "0.27.1", "0.28.0", "0.29.0", "0.30.0"):
        assert vllm.specifier.contains(v), v
    for v in ("0.26.0", "0.31.0", "0.32.0", "0.33.0"):
        assert not vllm.specifier.contains(v), v


def test_no_unused_dependency():
    sources = "\n".join(p.read_text() for d in ("llm2llm", "baselines") for p in (ROOT / d).rglob("*.py"))
    sources += (ROOT / "train.py").read_text()
    for r in (Requirement(x) for x in PROJECT["dependencies"]):
        name = canonicalize_name(r.name)
        module = IMPORT_NAMES.get(name, name.replace("-", "_"))
        imported = re.search(rf"^\s*(from|import) {module}\b", sources, re.MULTILINE)
        assert imported or name in RUNTIME_ONLY, f"{r.name} is declared but never imported (remove it, or say why)"
    assert "pandas" not in {canonicalize_name(Requirement(x).name) for x in PROJECT["dependencies"]}


def test_make_install_passes_the_constraints_to_every_project_install():
    lines = [l for l in (ROOT / "Makefile").read_text().splitlines() if re.search(r"pip install .*-e ", l)]
    assert len(lines) >= 2
    for line in lines:
        assert "-c constraints.txt" in line, line
    assert re.search(r"^\$\(STAMP\):.*constraints\.txt", (ROOT / "Makefile").read_text(), re.MULTILINE)


def test_make_env_gives_a_shell_what_make_run_exports():
    """``eval "$(make -s env)"``: every variable the Makefile exports for the run (the build's CMake
    flags aside), with the Makefile's values: caches under the checkout's .cache/."""
    env = {k: v for k, v in os.environ.items() if k not in ("LLM2LLM_CACHE_DIR", "HF_HOME", "WANDB_DIR", "MAKEFLAGS")}
    out = subprocess.run(["make", "-s", "env"], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    got = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    exported = set(re.findall(r"^export (\w+) \?=", (ROOT / "Makefile").read_text(), re.MULTILINE))
    assert set(got) == exported - {"CMAKE_ARGS", "CMAKE_BUILD_PARALLEL_LEVEL"}
    assert got["LLM2LLM_CACHE_DIR"] == str(ROOT / ".cache" / "llm2llm") and got["HF_HOME"] == str(ROOT / ".cache" / "hf")
