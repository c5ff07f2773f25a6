#!/usr/bin/env bash
# Set up mmb2inst on a CPU machine (Python 3.11): a virtualenv in .venv with
# torch 2.13 (CPU), mmcv 2.1.0 built with its C++ ops, mmengine, mmdet 3.3.0,
# openmim, the test tools, and mmb2inst itself (editable) installed so that
# `mim train mmb2inst ...` finds it. Idempotent: a second run takes seconds.
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

# mmb2inst as an editable install (`pip install -e .`): `python tools/x.py`
# and `mim` run the checkout's code, with no reinstall after an edit. setup.py
# links tools/ and configs/ into mmb2inst/.mim. mim looks for the package in
# the directory its metadata was installed to (site-packages), where a PEP 660
# editable install puts only an import hook, so a link
# site-packages/mmb2inst -> the checkout's mmb2inst/ goes beside it. Redone
# only when the packaging files change or the install is missing.
SITE="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
stamp="$VENV/.mmb2inst-install-hash"
hash=$(cd "$ROOT" && cat setup.py setup.cfg MANIFEST.in mmb2inst/version.py | \
    sha1sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ] || \
        [ ! -L "$ROOT/mmb2inst/.mim/tools" ] || \
        [ "$(readlink "$SITE/mmb2inst")" != "$ROOT/mmb2inst" ] || \
        ! python -c 'import mmb2inst' 2>/dev/null; then
    log "installing mmb2inst from $ROOT (editable)"
    rm -rf "$SITE/mmb2inst"
    # (setuptools' banner about editable installs is not for users)
    (cd "$ROOT" && PYTHONWARNINGS="ignore:Editable installation" \
        pip install "${PIP_FLAGS[@]}" --no-deps --no-build-isolation -e . && \
        rm -rf build mmb2inst.egg-info)
    ln -s "$ROOT/mmb2inst" "$SITE/mmb2inst"
    echo "$hash" > "$stamp"
fi
log "ready: $(python -c 'import mmb2inst; print("mmb2inst", mmb2inst.__version__)') in $VENV"
