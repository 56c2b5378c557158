#!/usr/bin/env bash
# pip's resolver, dry run, against the package index (needs the network; nothing is installed):
# does llm2llm resolve together with the current lm-eval, and with its vllm extra?
# Each case prints the versions pip picked for the packages that decide it, or pip's conflict.
#   scripts/check_resolution.sh            (uses .venv/bin/pip; PIP=/path/to/pip to choose another)
# The results of a run are kept in docs/installing.md.
set -uo pipefail
cd "$(dirname "$0")/.."
PIP=${PIP:-.venv/bin/pip}
SHOW="torch transformers datasets peft numpy mistral-common lm-eval vllm"
report=$(mktemp)
log=$(mktemp)
trap 'rm -f "$report" "$log"' EXIT
status=0

check() {
  local name=$1; shift
  echo "== $name: pip install --dry-run $*"
  local start=$SECONDS
  if "$PIP" install --dry-run --ignore-installed --quiet --report "$report" "$@" >"$log" 2>&1; then
    python3 - "$report" $SHOW <<'PY'
import json, sys
picked = {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
          for i in json.load(open(sys.argv[1]))["install"]}
print("   resolved:", ", ".join(f"{n} {picked[n]}" for n in sys.argv[2:] if n in picked), f"({len(picked)} packages)")
PY
  else
    echo "   DOES NOT RESOLVE:"; grep -E "^ERROR|conflict is caused|requires|depends on" "$log" | sed 's/^/   /'; status=1
  fi
  echo "   ($((SECONDS - start)) s)"
}

check "ranges + current lm-eval" . lm-eval
check "tested versions (constraints.txt) + lm-eval extra" -c constraints.txt ".[lm-eval]"
check "tested torch + vllm extra" torch==2.13.0 ".[vllm]"
check "tested torch + vllm and lm-eval extras" torch==2.13.0 ".[vllm,lm-eval]"
exit $status
