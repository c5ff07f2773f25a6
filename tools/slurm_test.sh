#!/usr/bin/env bash
# Testing on a Slurm cluster, one task per GPU:
#   bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [args]
# (args as tools/test.py). GPUS (total, default 8), GPUS_PER_NODE (default
# 8), CPUS_PER_TASK (default 5) and SRUN_ARGS (extra srun options) come from
# the environment, as for tools/slurm_train.sh. Needs GPUs: on CPU machines
# use tools/dist_test.sh.
set -e
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 8 ? GPUS : 8))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
# shellcheck disable=SC2206
SRUN_EXTRA=(${SRUN_ARGS:-})
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON=${PYTHON:-python}
exec srun -p "$PARTITION" --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 "${SRUN_EXTRA[@]}" \
    "$PYTHON" -u "$DIR/test.py" "$CONFIG" "$CHECKPOINT" \
    --launcher=slurm "$@"
