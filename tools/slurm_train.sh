#!/usr/bin/env bash
# Training on a Slurm cluster, one task per GPU:
#   bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [args]
# (args as tools/train.py). GPUS (total, default 8), GPUS_PER_NODE (default
# 8), CPUS_PER_TASK (default 5) and SRUN_ARGS (extra srun options) come from
# the environment, e.g. GPUS=16 for two 8-GPU nodes. Slurm starts the
# processes; MMEngine's slurm launcher reads their rank from Slurm and takes
# the master address from the node list (MASTER_PORT, default 29500, when
# two jobs share a node). Needs GPUs: on CPU machines use tools/dist_train.sh.
set -e
if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
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
    "$PYTHON" -u "$DIR/train.py" "$CONFIG" --work-dir="$WORK_DIR" \
    --launcher=slurm "$@"
