#!/usr/bin/env bash
# The main job: set up if needed, then train and test the quick-start model on
# the toy dataset (generated on first use) through `mim`, and say where the
# results and pictures are. Running it again resumes/reuses the finished run.
#
# CONFIG=configs/... bash tools/quickstart.sh  trains another config.
set -eo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
. "$ROOT/tools/setup.sh"
cd "$ROOT"

CONFIG="${CONFIG:-configs/yolact/yolact_r18_1xb8-10e_toy.py}"
NAME="$(basename "$CONFIG" .py)"
WORK_DIR="work_dirs/$NAME"

echo "[quickstart] training $CONFIG (log and checkpoints in $WORK_DIR)"
# --resume: a second run continues (or reuses) this run instead of
# overwriting its checkpoints.
mim train mmb2inst "$CONFIG" --work-dir "$WORK_DIR" --resume

CKPT="$(cat "$WORK_DIR/last_checkpoint")"
echo "[quickstart] testing $CKPT"
mim test mmb2inst "$CONFIG" --checkpoint "$CKPT" --work-dir "$WORK_DIR" \
    --show-dir vis --out "$WORK_DIR/predictions.pkl"

python tools/summarize_run.py "$WORK_DIR"
