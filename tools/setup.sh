#!/usr/bin/env bash
# Set up mmb2inst on a CPU machine (Python 3.11): a virtualenv in .venv with
# torch 2.13 (CPU), mmcv 2.1.0 built with its C++ ops, mmengine, mmdet 3.3.0,
# openmim, the test tools, and mmb2inst itself installed so that
# `mim train mmb2inst ...` finds it. Idempotent: a second run only reinstalls
# mmb2inst when its sources changed, and takes seconds.
#
# Usage: source it (`. tools/setup.sh`) to stay in the venv, or run it.
# MMB2INST_VENV=/path overrides the venv location.
set -eo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMB2INST_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3}"
PIP_FLAGS=(--disable-pip-version-check -q)

log() { printf '[setup] %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv $VENV"
    "$PYTHON_BIN" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"

stack_ok() {
    python - <<'PY' 2>/dev/null
import importlib.metadata as md
import mmcv.ops  # noqa: F401  (fails when mmcv was built without _ext)
import cv2, pycocotools, pytest, flake8, isort, yapf  # noqa: F401,E401
import faster_coco_eval, onnx, onnxruntime  # noqa: F401,E401
want = {'torch': '2.13.0', 'mmcv': '2.1.0', 'mmengine': '0.10.7',
        'mmdet': '3.3.0', 'openmim': '0.3.9'}
for name, version in want.items():
    assert md.version(name).split('+')[0] == version, name
PY
}

if ! stack_ok; then
    log "installing the stack (first run: mmcv's C++ ops compile for ~10 min)"
    pip install "${PIP_FLAGS[@]}" --upgrade pip
    # torch first (the CPU wheel), and a setuptools that still ships
    # pkg_resources (mmcv's setup.py, mmengine and mim import it).
    pip install "${PIP_FLAGS[@]}" torch==2.13.0 'setuptools>=77,<81' wheel \
        ninja numpy
    if ! python -c 'import mmcv.ops' 2>/dev/null; then
        # Without --no-build-isolation the build cannot see torch and silently
        # produces an mmcv without its ops. pip caches the built wheel.
        MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" pip install \
            "${PIP_FLAGS[@]}" --no-build-isolation mmcv==2.1.0
    fi
    pip install "${PIP_FLAGS[@]}" mmengine==0.10.7 mmdet==3.3.0 \
        'opencv-python>=4.8' 'pycocotools>=2.0.7' 'faster-coco-eval>=1.8' \
        'matplotlib>=3.7' 'scipy>=1.10' 'terminaltables>=3.1' \
        'onnx>=1.15' 'onnxruntime>=1.17' \
        'pytest>=8' 'flake8>=7' 'isort>=5.13' yapf==0.40.1
    # openmim's own dependency tree pulls openxlab, which pins setuptools 60.
    pip install "${PIP_FLAGS[@]}" --no-deps openmim==0.3.9
    pip install "${PIP_FLAGS[@]}" click colorama model-index pandas requests \
        rich tabulate
    stack_ok || { log "the stack does not import; see the pip output above"; exit 1; }
fi

# (Re)install mmb2inst when its sources changed. A regular (non-editable)
# install: mim resolves the package through its installed location, which a
# PEP 660 editable install leaves empty.
stamp="$VENV/.mmb2inst-src-hash"
hash=$(cd "$ROOT" && find mmb2inst configs tools setup.py setup.cfg MANIFEST.in \
    -path mmb2inst/.mim -prune -o -type f \( -name '*.py' -o -name '*.sh' \
    -o -name '*.cfg' -o -name '*.in' \) -print | LC_ALL=C sort | \
    xargs sha1sum | sha1sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ] || \
        ! python -c 'import mmb2inst' 2>/dev/null; then
    log "installing mmb2inst from $ROOT"
    (cd "$ROOT" && pip install "${PIP_FLAGS[@]}" --no-deps \
        --no-build-isolation . && rm -rf build mmb2inst.egg-info)
    echo "$hash" > "$stamp"
fi
log "ready: $(python -c 'import mmb2inst; print("mmb2inst", mmb2inst.__version__)') in $VENV"
