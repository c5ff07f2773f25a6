#!/usr/bin/env bash
# Train toy configs with several seeds (same schedule, same data) and print
# their final validation metrics side by side, the first config as baseline.
#
#   SEEDS="0 1" bash tools/toy_ablation.sh CONFIG_BASELINE [CONFIG ...]
#
# Runs go to work_dirs/ablation/<config name>_seed<seed>; finished runs are
# reused (--resume), so the command can be re-run to add seeds. JOBS=2 trains
# two runs at a time (one core each on a 2-core machine).
set -eo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
. "$ROOT/tools/setup.sh" > /dev/null
cd "$ROOT"
SEEDS="${SEEDS:-0}"
JOBS="${JOBS:-1}"
[ $# -ge 1 ] || { echo "usage: SEEDS='0 1' $0 BASELINE_CONFIG [CONFIG...]"; exit 2; }

runs=()
for config in "$@"; do
    for seed in $SEEDS; do
        runs+=("$config:$seed")
    done
done
train() {
    local config="${1%%:*}" seed="${1##*:}"
    local work_dir="work_dirs/ablation/$(basename "$config" .py)_seed$seed"
    mkdir -p "$work_dir"
    echo "[ablation] $config seed $seed -> $work_dir"
    OMP_NUM_THREADS=$(( $(nproc) / JOBS > 0 ? $(nproc) / JOBS : 1 )) \
        mim train mmb2inst "$config" --work-dir "$work_dir" --resume \
        --cfg-options randomness.seed="$seed" >> "$work_dir/train.out" 2>&1 \
        || { echo "[ablation] FAILED, see $work_dir/train.out"; return 1; }
}
export -f train
export JOBS
printf '%s\n' "${runs[@]}" | xargs -P "$JOBS" -I{} bash -c 'train "$@"' _ {}

args=()
for config in "$@"; do
    name="$(basename "$config" .py)"
    args+=("$name=work_dirs/ablation/${name}_seed*")
done
# shellcheck disable=SC2068
python tools/ablation_table.py ${args[@]}
