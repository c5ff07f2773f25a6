#!/usr/bin/env bash
# Multi-GPU testing: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [args]
set -e
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
PORT=${PORT:-29500}
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec torchrun --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$DIR/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
