"""Collect the final validation metrics of toy runs into a table.

    python tools/ablation_table.py yolact=work_dirs/ablation/yolact_seed*
        b2inst=work_dirs/ablation/b2inst_seed* [--keys coco/segm_mAP ...]

Each argument is NAME=WORK_DIR (shell globs expand into several work_dirs
of the same name, e.g. one per seed). For every work_dir the last
validation record of its newest run with one is used; a row per NAME gives
the mean (and the spread over seeds) of each metric, and the difference of
each row to the first one.
"""
import argparse
import glob
import statistics
from collections import OrderedDict

import _source_checkout  # noqa: F401  (before mmb2inst)

from mmb2inst.utils.run_logs import latest_metrics

DEFAULT_KEYS = ('coco/segm_mAP', 'coco/segm_mAP_75', 'coco/bbox_mAP',
                'boundary/boundary_mAP')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', help='NAME=WORK_DIR')
    parser.add_argument('--keys', nargs='+', default=list(DEFAULT_KEYS))
    args = parser.parse_args()
    groups = OrderedDict()
    current = None
    for item in args.runs:
        if '=' in item:
            current, item = item.split('=', 1)
        if current is None:
            parser.error(f'{item}: give runs as NAME=WORK_DIR')
        # NAME=work_dirs/x_seed* arrives unexpanded (the shell globs no
        # word with '=' in it).
        groups.setdefault(current,
                          []).extend(sorted(glob.glob(item)) or [item])
    table = OrderedDict()
    for name, dirs in groups.items():
        metrics = []
        for d in dirs:
            run, record = latest_metrics(d, mode='val')
            if run is None:
                raise SystemExit(f'No validation metrics under {d}.')
            metrics.append(record)
        table[name] = {k: [m[k] for m in metrics if k in m] for k in args.keys}
        table[name]['runs'] = dirs
    first = next(iter(table.values()))
    print('| model | runs | ' + ' | '.join(args.keys) + ' |')
    print('| --- | --- |' + ' --- |' * len(args.keys))
    for name, row in table.items():
        cells = []
        for k in args.keys:
            vals = row[k]
            if not vals:
                cells.append('-')
                continue
            mean = statistics.mean(vals)
            cell = f'{mean:.3f}'
            if len(vals) > 1:
                cell += f' ± {statistics.stdev(vals):.3f}'
            if row is not first and first[k]:
                cell += f' ({mean - statistics.mean(first[k]):+.3f})'
            cells.append(cell)
        print(f'| {name} | {len(row["runs"])} | ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    main()
