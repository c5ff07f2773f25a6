#!/usr/bin/env bash
# Check the README's GPU install ("Install for GPU training") in a fresh
# virtualenv on this CPU machine: the same steps, with CPU wheels standing in
# for the CUDA ones (torch 2.13 CPU for the CUDA build of step 1, mmcv 2.1.0
# built with its ops for OpenMMLab's prebuilt wheel of step 2). Then, away
# from the source checkout: `import mmb2inst`, the synthetic COCO-format set
# in data/coco, and `mim train mmb2inst <a COCO config>` for 10 iterations
# and a validation pass (random-init backbone: no weights can be downloaded).
#
# Usage: bash tools/misc/check_install.sh [WORK_DIR] [CONFIG_NAME]
#   WORK_DIR     where the venv and the run go (default: a new temp dir)
#   CONFIG_NAME  default b2inst-blendmask_r50_1x_coco.py
set -eo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${1:-$(mktemp -d /tmp/mmb2inst-install-XXXX)}"
CONFIG="${2:-b2inst-blendmask_r50_1x_coco.py}"
PIP=(pip install --disable-pip-version-check -q)
step() { printf '\n[check_install] %s\n' "$*"; }

mkdir -p "$WORK"
step "fresh virtualenv $WORK/venv"
python3 -m venv "$WORK/venv"
# shellcheck disable=SC1091
. "$WORK/venv/bin/activate"
"${PIP[@]}" --upgrade pip

step "1. PyTorch (GPU: the build for your CUDA; here the CPU wheel), and a setuptools with pkg_resources"
"${PIP[@]}" torch==2.13.0
"${PIP[@]}" 'setuptools>=77,<81' wheel

step "2. mmcv 2.1.0 with its ops (GPU: OpenMMLab's prebuilt wheel; here built from the sdist, cached by pip after the first time)"
MMCV_WITH_OPS=1 MAX_JOBS="$(nproc)" "${PIP[@]}" --no-build-isolation mmcv==2.1.0

step "3. mmb2inst and everything it imports (pip install ., not -e: mim looks for the installed copy)"
"${PIP[@]}" "$ROOT"

step "4. openmim without its dependency tree (which pins setuptools 60)"
"${PIP[@]}" --no-deps openmim==0.3.9
"${PIP[@]}" click colorama model-index pandas requests rich tabulate

RUN="$WORK/run"
mkdir -p "$RUN"
cd "$RUN"  # away from the checkout: the installed package is what runs
step "import mmb2inst"
python -c 'import mmb2inst, mmcv.ops; print("mmb2inst", mmb2inst.__version__, "from", mmb2inst.__file__)'
python - <<'PY'
import mmb2inst
assert '/venv/' in mmb2inst.__file__, mmb2inst.__file__
PY
step "the synthetic COCO-format set in data/coco"
python "$ROOT/tools/dataset_converters/make_synthetic_coco.py" data/coco

step "mim train mmb2inst $CONFIG (10 iterations + validation)"
CONFIG_PATH="$(python - "$CONFIG" <<'PY'
import glob, os.path as osp, sys
import importlib.util
root = osp.join(osp.dirname(importlib.util.find_spec('mmb2inst').origin),
                '.mim', 'configs')
path, = glob.glob(osp.join(root, '**', sys.argv[1]), recursive=True)
print(path)
PY
)"
mapfile -t OPTS < <(python "$ROOT/tools/analysis_tools/ablation/short_run.py" \
    "$CONFIG_PATH" --iters 10)
mim train mmb2inst "$CONFIG" --work-dir "$RUN/work_dir" --cfg-options \
    "${OPTS[@]}" default_hooks.checkpoint.save_last=False
grep -h '"coco/segm_mAP"' "$RUN"/work_dir/*/vis_data/scalars.json | tail -1
step "OK: the README's GPU install works (CPU stand-ins) in $WORK"
