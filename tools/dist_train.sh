#!/usr/bin/env bash
# Distributed training on one machine: bash tools/dist_train.sh CONFIG N [args]
# (args as tools/train.py) starts N processes with torchrun: one per GPU, or,
# on a machine without CUDA, N CPU processes (gloo backend, DDP of the CPU
# model; set up by tools/train.py). NNODES/NODE_RANK/MASTER_ADDR/PORT for
# several machines; PORT also when two runs share a machine.
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
