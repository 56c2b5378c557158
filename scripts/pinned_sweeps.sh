#!/usr/bin/env bash
# Run sweeps one seed at a time on a CPU, one single-thread worker pinned to each core.
#
#   scripts/pinned_sweeps.sh FIRST_SEED LAST_SEED SWEEP [SWEEP ...]
#   e.g. LLM2LLM_RUNS_DIR=.cache/study_runs scripts/pinned_sweeps.sh 0 13 study_oracle_trec study_oracle_sst2
#
# A job is one seed of one sweep (`train.py -m --config-dir sweeps --config-name SWEEP seed=S`: all of
# that seed's cells); jobs are taken in seed order, the sweeps alternating, by the first free worker.
# On a small CPU two single-thread processes finish more runs an hour than one two-thread process; the
# thread count changes floating-point summation order only, not any setting. Every job resumes (a
# finished run is skipped), so killing this script and starting it again loses at most the stage in
# progress. Logs: $LLM2LLM_RUNS_DIR/logs/<sweep>_seed<S>.log. Runs at nice 19.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 3 ]; then
  echo "usage: $0 FIRST_SEED LAST_SEED SWEEP [SWEEP ...]  (sweeps are files in sweeps/)" >&2; exit 2
fi
first=$1 last=$2; shift 2
for sweep in "$@"; do
  [ -f "sweeps/$sweep.yaml" ] || { echo "error: sweeps/$sweep.yaml not found" >&2; exit 2; }
done
eval "$(make -s env)"
runs=${LLM2LLM_RUNS_DIR:-runs}
mkdir -p "$runs/logs"
queue=$(mktemp) lock="$queue.lock"
trap 'rm -f "$queue" "$lock"' EXIT
for seed in $(seq "$first" "$last"); do for sweep in "$@"; do echo "$sweep $seed"; done; done > "$queue"

next_job() {  # pop the first line of the queue (under a lock: two workers never take the same job)
  flock "$lock" sh -c 'head -n1 "$1"; sed -i 1d "$1"' _ "$queue"
}

worker() {
  local core=$1 sweep seed
  while read -r sweep seed < <(next_job) && [ -n "${sweep:-}" ]; do
    echo "$(date -u +%FT%TZ) core $core: $sweep seed $seed"
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 taskset -c "$core" nice -n 19 .venv/bin/python train.py -m \
      --config-dir sweeps --config-name "$sweep" "seed=$seed" > "$runs/logs/${sweep}_seed$seed.log" 2>&1 \
      || echo "$(date -u +%FT%TZ) core $core: $sweep seed $seed exited $? (log: $runs/logs/${sweep}_seed$seed.log)"
  done
}

for core in $(seq 0 $(($(nproc) - 1))); do worker "$core" & done
wait
echo "$(date -u +%FT%TZ) all jobs done"
