#!/usr/bin/env bash
# Reproduce one table of the paper on the toy set: set up if needed, train
# and evaluate the table's rows that have no toy run yet (through
# tools/toy_ablation.sh), then print the table beside the paper's COCO
# numbers and write it to work_dirs/tables/ (markdown, CSV, bar plot).
#
#   bash tools/reproduce_table.sh 1|2|3 [tools/paper_tables.py options]
#   bash tools/reproduce_table.sh 2 --model yolact     # Table 2 on YOLACT
#   SEEDS="0 1" JOBS=2 bash tools/reproduce_table.sh 3  # two seeds, 2 at once
#
# Without SEEDS, seed 0 is trained where a row has no run and the table
# shows every seed found; with SEEDS, exactly those seeds. Finished runs are
# reused, so the command can be re-run.
set -eo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 1 ] || { echo "usage: SEEDS='0 1' JOBS=2 $0 1|2|3 [--model yolact]"; exit 2; }
# shellcheck disable=SC1091
. "$ROOT/tools/setup.sh" > /dev/null
cd "$ROOT"
table="$1"
shift
seeds=()
[ -n "${SEEDS:-}" ] && seeds=(--seeds "$SEEDS")
python tools/paper_tables.py --table "$table" --run --jobs "${JOBS:-1}" \
    "${seeds[@]}" "$@"
