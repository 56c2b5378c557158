#!/usr/bin/env bash
# Build .whl/: the wheels a GPU machine without network needs to run the harness (docs/preflight.md).
# Run here, in the repository root, with the project's venv (needs PyPI only for the few compiled
# wheels, fetched for the GPU machine's Python 3.12; pure-Python ones are repacked from .venv).
#   scripts/gpu_bundle.sh            # -> .whl/*.whl and .whl/BUNDLE.txt (the install line)
# On the GPU machine, from the repository root with .whl carried along:
#   python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
#   export PYTHONPATH=/tmp/site:$PWD
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
[ -x "$py" ] || py=python3
git check-ignore -q .whl/x.whl || { echo "error: .whl/ is not git-ignored (add /.whl/ to .gitignore)" >&2; exit 2; }
"$py" -m llm2llm.preflight.bundle --out .whl --python "${GPU_PYTHON:-3.12}"
du -sh .whl
