#!/usr/bin/env bash
# The GPU preflight as one command on a GPU machine (docs/preflight.md), from the repository root,
# with .whl/ (scripts/gpu_bundle.sh; another folder: WHEELS=...) carried along when the machine lacks hydra-core, omegaconf,
# deepspeed, ...:
#   scripts/gpu_preflight.sh OUT_DIR [python -m llm2llm.preflight arguments]
# Installs the bundle into /tmp/site (no network), runs the preflight at GPU sizes (a few minutes
# on one H100) into OUT_DIR/preflight/, keeps its whole log in OUT_DIR/preflight.log and prints the
# Markdown report last.
set -uo pipefail
out=${1:?usage: scripts/gpu_preflight.sh OUT_DIR [preflight arguments]}
shift
cd "$(dirname "$0")/.."
mkdir -p "$out"
py=${PYTHON:-python3}
wheels=${WHEELS:-.whl}
if compgen -G "$wheels/*.whl" >/dev/null; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$wheels"/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false WANDB_MODE=disabled \
  TORCH_EXTENSIONS_DIR=/tmp/torch_extensions LLM2LLM_CACHE_DIR=/tmp/llm2llm-cache HF_HOME=/tmp/hf
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
"$py" -m llm2llm.preflight --out "$out/preflight" --sizes gpu "$@" >"$out/preflight.log" 2>&1
rc=$?
grep -E '^(preflight:|environment|train_|eval_|projection|report:)' "$out/preflight.log"
[ -f "$out/preflight/preflight.md" ] && cat "$out/preflight/preflight.md" || tail -40 "$out/preflight.log"
exit $rc
