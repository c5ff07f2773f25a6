#!/usr/bin/env bash
# Multi-GPU training on one machine: bash tools/dist_train.sh CONFIG GPUS [args]
# (args as tools/train.py). NNODES/NODE_RANK/MASTER_ADDR/PORT for several
# machines.
set -e
CONFIG=$1
GPUS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec torchrun --nnodes="$NNODES" --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" --nproc_per_node="$GPUS" \
    --master_port="$PORT" "$DIR/train.py" "$CONFIG" --launcher pytorch "$@"
