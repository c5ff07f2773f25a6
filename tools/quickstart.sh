#!/usr/bin/env bash
# The main job: set up if needed, then train and test toy B2Inst-BlendMask
# (the holistic boundary basis and the boundary-aware scorer, on BlendMask)
# on the toy dataset (generated on first use) through `mim`, draw its bases
# and boundary basis, and say where the results and pictures are. Running it
# again resumes/reuses the finished run.
#
# CONFIG=configs/... bash tools/quickstart.sh  trains another config.
set -eo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
. "$ROOT/tools/setup.sh"
cd "$ROOT"

# The third-party notices the tools filter (tools/train.py), for the mim
# process too (it imports pkg_resources); set here, they replace the tools'
# own filters in their processes, so they are the same ones.
W="ignore:pkg_resources is deprecated:UserWarning"
W="$W,ignore:torch.meshgrid:UserWarning"
W="$W,ignore:Warning:UserWarning:mmengine.visualization.visualizer"
export PYTHONWARNINGS="${PYTHONWARNINGS:-$W}"

CONFIG="${CONFIG:-configs/b2inst_blendmask/b2inst-blendmask_r18_1xb8-12e_toy.py}"
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

echo "[quickstart] drawing the bases and the boundary basis of 4 val images"
python tools/analysis_tools/vis_bases.py "$CONFIG" "$CKPT" --num 4 \
    --out-dir "$WORK_DIR/bases" > /dev/null

python tools/analysis_tools/analyze_logs.py "$WORK_DIR"
