"""Tables 1-3 of the B2Inst paper on the toy set, beside the paper's COCO
numbers: train the missing runs, then print the tables.

    python tools/analysis_tools/toy_tables.py 1 2 3 [--model blendmask|yolact]
        [--seeds 0 1 2] [--rows LABEL ...] [--train [--jobs 2] [--threads N]]
        [--runs-dir work_dirs/ablation] [--out-dir work_dirs/tables]
        [--val-images 2000 [--val-seed 1]] [--preset hard] [--record]
        [--ledger docs/toy_runs.jsonl]

Every row is a toy config; its runs are ``<runs-dir>/<config name>_seed<S>``
(trained with ``--train``: ``tools/train.py CONFIG --resume --cfg-options
randomness.seed=S``, ``--jobs`` at a time with the machine's cores split
between them unless ``--threads`` says otherwise; two toy_tables.py trainings
side by side need ``--threads 1`` each, or their threads spin-wait for the
shared cores and crawl, which the tool warns of; finished runs are
reused, stopped ones resumed, and a run trained from an earlier version of
its config is moved to ``<dir>.stale-<time>`` and retrained; without
``--train`` it is left out).
Per row: the mean over seeds (± the sample std) of the last validation's
segm mAP, AP75, bbox mAP and Boundary AP in AP points; per non-baseline row
the change of segm mAP and Boundary AP over the baseline, paired by seed,
as mean and 95% confidence interval (Student's t over the seeds both rows
have), and how many seeds the segm change's measured spread needs for a CI
of ±0.5 AP; beside them the paper's COCO val2017 mask AP and its change. Each
table is printed as markdown and written to
``<out-dir>/table<N>.{md,csv,png}``; the footer gives the training CPU time
of the table's runs, and warns when they were trained on more than one kind
of CPU (each run records its CPU in run_info.json; across CPUs a seed does
not repeat).

``--val-images N`` scores every finished run's last checkpoint on the val
split extended to N images (the generator draws image i of a split from
(seed, split, i), so its first images are the val set; generated once into
``<data_root>_val<N>/``; scored once into ``<run>/val<N>/`` by
``tools/test.py``, ``--jobs`` at a time) and tables those scores instead
(``table<T>_val<N>.*``): the runs' luck on 200 images is part of the seed
spread, and a larger test set removes it for a minute of CPU a run.
``--val-seed S`` with it draws those N images with generator seed S instead
of the config's (``<data_root>_val<N>-seed<S>/``, scores in
``<run>/val<N>-seed<S>/``, tables ``table<T>_val<N>-seed<S>.*``): a held-out
set on which no choice of the project (loss weights, inits, defaults) was
made, unlike the val split the configs were tuned on.

``--preset hard`` trains and scores every row on the toy set of another
generator preset (``data/toy_<preset>/``; ``hard``: textured noise, colours
independent of the class, more and smaller objects) instead of the configs'
own ``boundary`` set, by ``--cfg-options`` on the same configs (every
split's data_root and generator preset, the evaluators' ann_file); its runs
live in ``<runs-dir>-<preset>/`` (default ``work_dirs/ablation-hard``), its
ledger entries carry the preset, its tables are ``table<T>_<preset>*.md``.

``--record`` adds every finished run under ``--runs-dir`` (its seed, CPU,
CPU time, model fingerprint, last validation and extended-split scores) to
the ledger ``docs/toy_runs.jsonl``, which is committed: work_dirs do not
outlive a machine. A (row, seed) missing under ``--runs-dir`` is taken from
the ledger when its entry trained the model the config builds now, and
``--train`` does not train it again, so seeds added on later machines
accumulate into the same tables. ``--rows LABEL ...`` restricts a table to
some rows and their baselines.

The work is done by the modules of ``ablation/`` beside this file: ``rows``
(the tables), ``run_queue`` (training and scoring), ``ledger``, ``stats``
(paired deltas, confidence intervals) and ``render`` (markdown, CSV, PNG).
"""
import argparse
import csv
import os
import os.path as osp
import sys

from ablation.ledger import (LEDGER, read_ledger, record_runs, run_cpus,
                             run_seconds)
from ablation.render import csv_rows, markdown, plot
from ablation.rows import ROOT, RUNS_DIR, TABLES, select_rows, table_rows
from ablation.run_queue import evaluate_missing, split_name, train_missing
from ablation.stats import collect

from mmb2inst.datasets.toy_shapes import PRESETS

# The generator preset of every toy config's data set
# (configs/_base_/datasets/toy_shapes_instance.py).
OWN_PRESET = 'boundary'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('tables', nargs='+', choices=list(TABLES))
    parser.add_argument(
        '--model',
        choices=['blendmask', 'yolact'],
        default='blendmask',
        help='the host of Table 2 (the paper: BlendMask)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--rows',
        nargs='+',
        metavar='LABEL',
        help='only these rows (and their baselines), by label as the table '
        'prints it, e.g. --rows +HBB B2Inst-BlendMask')
    parser.add_argument('--train', action='store_true')
    parser.add_argument('--jobs', type=int, default=2)
    parser.add_argument(
        '--threads',
        type=int,
        help='threads of each run (default: the cores split between the '
        '--jobs); give 1 when another job shares the machine')
    parser.add_argument(
        '--runs-dir',
        help=f'where the runs are (default: {RUNS_DIR}, with --preset P '
        f'{RUNS_DIR}-P)')
    parser.add_argument(
        '--preset',
        choices=sorted(PRESETS),
        default=OWN_PRESET,
        help='the toy set\'s generator preset (default: the configs\' own, '
        f'{OWN_PRESET}); another one trains and scores the same configs on '
        'data/toy_<preset>/')
    parser.add_argument(
        '--ledger',
        help=f'the runs recorded on earlier machines (default: {LEDGER}); '
        'a run under --runs-dir comes first, a recorded one is not '
        'retrained')
    parser.add_argument(
        '--record',
        action='store_true',
        help='add the finished runs under --runs-dir (and their scores on '
        'extended val splits) to the ledger')
    parser.add_argument('--out-dir', default='work_dirs/tables')
    parser.add_argument(
        '--val-images',
        type=int,
        help='score every run on the val split extended to this many '
        'images (its first ones are the val images; generated once into '
        '<data_root>_val<N>/) instead of its own last validation')
    parser.add_argument(
        '--val-seed',
        type=int,
        help='with --val-images: draw those images with this generator seed '
        '(a held-out set no choice was made on) instead of the config\'s')
    args = parser.parse_args(argv)
    # None: the configs' own toy set, with no options and unmarked entries
    args.preset = None if args.preset == OWN_PRESET else args.preset
    if args.runs_dir is None:
        args.runs_dir = RUNS_DIR + (f'-{args.preset}' if args.preset else '')
    if args.val_seed is not None and args.val_images is None:
        parser.error('--val-seed needs --val-images: say how many held-out '
                     'images to draw, e.g. --val-images 2000 --val-seed 1')
    if args.val_images is not None and args.val_images < 1:
        parser.error(f'--val-images {args.val_images}: give a number of '
                     'images >= 1, or leave it out to use the runs\' own '
                     'validation')
    return args


def main(argv=None):
    args = parse_args(argv)
    ledger_path = args.ledger or osp.join(ROOT, LEDGER)
    ok = True
    for table in args.tables:
        try:
            rows = select_rows(table_rows(table, args.model), args.rows)
        except ValueError as e:
            print(f'error: table {table}: {e}', file=sys.stderr)
            return 2
        missing = [
            r.toy for r in rows if not osp.isfile(osp.join(ROOT, r.toy))
        ]
        if missing:
            print(f'error: configs missing: {missing}', file=sys.stderr)
            return 2
        ledger = read_ledger(ledger_path, args.preset)
        if args.train:
            ok &= train_missing(rows, args.runs_dir, args.seeds, args.jobs,
                                ledger, args.threads, args.preset)
        if args.val_images:
            try:
                ok &= evaluate_missing(rows, args.runs_dir, args.seeds,
                                       args.val_images, args.jobs,
                                       args.val_seed, args.preset,
                                       args.threads)
            except ValueError as e:
                print(f'error: {e}', file=sys.stderr)
                return 2
        if args.record:
            changed = record_runs(rows, args.runs_dir, args.seeds, ledger_path,
                                  args.preset)
            print(
                f'[tables] {changed} runs recorded in {ledger_path}',
                flush=True)
            ledger = read_ledger(ledger_path, args.preset)
        entries = collect(rows, args.runs_dir, args.seeds, args.val_images,
                          ledger, args.val_seed)
        title = TABLES[table]['title']
        if table == '2':
            title += ' on ' + ('YOLACT'
                               if args.model == 'yolact' else 'BlendMask')
        if args.preset:
            title += f', toy preset \'{args.preset}\''
        text = markdown(title, entries, args.seeds)
        if table == '2' and args.model == 'yolact':
            text += ('\nThe paper studies the designs on BlendMask only: its '
                     'columns are BlendMask\'s.\n')
        if args.val_images and args.val_seed is not None:
            text += (f'\nScored on {args.val_images} held-out images drawn '
                     f'with generator seed {args.val_seed} (`--val-images '
                     f'--val-seed`), not the val split the configs were '
                     'tuned on.\n')
        elif args.val_images:
            text += (f'\nScored on the val split extended to '
                     f'{args.val_images} images (`--val-images`), not the '
                     'runs\' own validation.\n')
        cpu = run_seconds(args.runs_dir, rows, args.seeds, ledger) / 3600
        if cpu:
            text += (f'\nTraining cost of these runs: {cpu:.1f} CPU-core '
                     'hours.\n')
        cpus = run_cpus(args.runs_dir, rows, args.seeds, ledger)
        if len(cpus) > 1:
            text += (f'\nWarning: these runs were trained on {len(cpus)} '
                     f'kinds of CPU ({", ".join(cpus)}); a seed on another '
                     'CPU is another draw, so the paired differences mix '
                     'machines (docs/reproducing.md).\n')
        name = f'table{table}' + ('_yolact' if table == '2'
                                  and args.model == 'yolact' else '')
        if args.preset:
            name += f'_{args.preset}'
        if args.val_images:
            name += '_' + split_name(args.val_images, args.val_seed)
        os.makedirs(args.out_dir, exist_ok=True)
        base = osp.join(args.out_dir, name)
        with open(base + '.md', 'w') as f:
            f.write(text)
        with open(base + '.csv', 'w', newline='') as f:
            csv.writer(f).writerows(csv_rows(table, entries))
        plot(title, entries, base + '.png')
        print(text)
        print(f'written: {base}.md, .csv, .png\n')
    if not ok:
        print(
            '[tables] some runs failed (see their train.out)', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
