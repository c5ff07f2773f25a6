#!/usr/bin/env bash
# Set up if needed, then run the linters (configured in setup.cfg, the
# OpenMMLab way: flake8, isort, yapf) and the test suite. Extra arguments go
# to pytest, e.g. `bash tools/run_tests.sh -k boundary`.
set -eo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
. "$ROOT/tools/setup.sh"
cd "$ROOT"

echo "[lint] flake8, isort, yapf"
targets=(mmb2inst configs tools tests setup.py)
flake8 "${targets[@]}"
isort --check-only --diff "${targets[@]}"
if ! yapf --diff --recursive "${targets[@]}" > /tmp/mmb2inst-yapf.diff; then
    cat /tmp/mmb2inst-yapf.diff
    echo "[lint] yapf would reformat the files above: run" \
        "yapf -i -r ${targets[*]}"
    exit 1
fi

echo "[tests] pytest"
# --durations: where the time of the tests goes (docs/testing.md).
python -m pytest --durations=15 "$@"
