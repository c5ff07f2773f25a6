#!/usr/bin/env bash
# Distributed testing: bash tools/dist_test.sh CONFIG CHECKPOINT N [args]
# (args as tools/test.py): N processes with torchrun, one per GPU, or N CPU
# processes (gloo) on a machine without CUDA. NNODES/NODE_RANK/MASTER_ADDR/
# PORT as for tools/dist_train.sh.
set -e
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec torchrun --nnodes="$NNODES" --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" --nproc_per_node="$GPUS" \
    --master_port="$PORT" "$DIR/test.py" "$CONFIG" "$CHECKPOINT" \
    --launcher pytorch "$@"
