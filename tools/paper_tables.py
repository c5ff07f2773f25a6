"""Tables 1-3 of the B2Inst paper from the toy runs, beside the paper's
COCO numbers.

    python tools/paper_tables.py --table {1,2,3} [--model blendmask|yolact]
        [--runs-dir work_dirs/ablation] [--out-dir work_dirs/tables]
        [--seeds "0 1"] [--run [--jobs 2]]

Every row of a table is a toy config; its runs are the work_dirs
``<runs-dir>/<config name>_seed<seed>`` that ``tools/toy_ablation.sh``
trains. For each row the tool gives the mean (± the sample standard deviation
over seeds) of the last validation record's segm mAP, AP50, AP75, bbox mAP
and Boundary AP, in AP points (x100) like the paper; the change of segm mAP
and Boundary AP over the row's baseline (mean over the seeds both have, ±
its spread); and the paper's COCO mask AP with its change over the paper's
baseline. Rows without a config or a run are shown as "—", with the command
that produces them.

The table is printed as markdown and written to ``<out-dir>/<table>.md``,
``.csv`` and ``.png`` (a bar plot of each row's change over its baseline).

--seeds restricts the table to those seeds (default: every seed found).
--run first trains and evaluates the missing toy runs (the --seeds, default
"0") through tools/toy_ablation.sh, --jobs of them at a time: runs that
stopped before their validation are resumed, runs still being written to
(in the last ACTIVE_MINUTES) are left alone.
"""
import argparse
import csv
import glob
import os
import os.path as osp
import re
import statistics
import subprocess
import sys
import time
from collections import OrderedDict, namedtuple

import _source_checkout  # noqa: F401  (before mmb2inst)

from mmb2inst.utils.run_logs import latest_metrics

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
RUNS_DIR = 'work_dirs/ablation'  # where tools/toy_ablation.sh trains

# --- the paper's tables --------------------------------------------------
# A table: its title, its rows, and optionally paper_model (the model the
# paper's numbers are of, when it is not the rows' own). A row: its label,
# its config with '{S}' for the suffix (TOY_SUFFIX for our runs,
# COCO_SUFFIX[family] for the paper's setting), the paper's COCO val2017
# mask AP, and the label of the row it is compared with (None: a baseline).
# A row may name its own toy config (``toy``) when the toy protocol differs
# from the COCO one (Table 1's scorer rows: the scorer trained on the frozen
# +HBB model, see the configs).
Row = namedtuple(
    'Row', 'label config family paper base toy', defaults=(None, ))

TOY_SUFFIX = '_r18_1xb8-12e_toy'
COCO_SUFFIX = dict(yolact='_r50_1xb8-55e_coco', blendmask='_r50_1x_coco')

YOLACT = 'configs/yolact/yolact{S}.py'
BLENDMASK = 'configs/blendmask/blendmask{S}.py'
B2INST_YOLACT = 'configs/b2inst_yolact/b2inst-yolact{S}.py'
B2INST_BLENDMASK = 'configs/b2inst_blendmask/b2inst-blendmask{S}.py'
B2INST_BLENDMASK_VARIANT = 'configs/b2inst_blendmask/b2inst-blendmask'
B2INST_BLENDMASK_TOY = B2INST_BLENDMASK_VARIANT + '_r18_scorer-2e_toy.py'
# Paper Table 2: the basis head designs (a)-(e), on BlendMask.
PAPER_TABLE2 = dict(baseline=35.8, a=35.7, b=36.0, c=36.0, d=36.0, e=36.2)


def _designs(family, baseline_label, baseline_config):
    design = 'configs/b2inst_{0}/b2inst-{0}_design-{1}{{S}}.py'
    return [
        Row(baseline_label, baseline_config, family, PAPER_TABLE2['baseline'],
            None)
    ] + [
        Row(f'({d})', design.format(family, d), family, PAPER_TABLE2[d],
            baseline_label) for d in 'abcde'
    ]


TABLES = dict(
    table1=dict(
        title='Table 1: holistic boundary basis (HBB), boundary Dice '
        'scoring (BS) and mask IoU scoring (MS) on BlendMask',
        rows=[
            Row('BlendMask', BLENDMASK, 'blendmask', 35.8, None),
            Row('+HBB', B2INST_BLENDMASK_VARIANT + '_design-e{S}.py',
                'blendmask', 36.2, 'BlendMask'),
            Row('+HBB+BS', B2INST_BLENDMASK_VARIANT + '_hbb-bs{S}.py',
                'blendmask', 36.3, 'BlendMask',
                B2INST_BLENDMASK_VARIANT + '_hbb-bs_r18_scorer-2e_toy.py'),
            Row('+HBB+MS', B2INST_BLENDMASK_VARIANT + '_hbb-ms{S}.py',
                'blendmask', 36.6, 'BlendMask',
                B2INST_BLENDMASK_VARIANT + '_hbb-ms_r18_scorer-2e_toy.py'),
            Row('+HBB+BS+MS', B2INST_BLENDMASK, 'blendmask', 36.8, 'BlendMask',
                B2INST_BLENDMASK_TOY),
        ]),
    table2_blendmask=dict(
        title='Table 2: basis head designs (a)-(e) on BlendMask',
        rows=_designs('blendmask', 'BlendMask', BLENDMASK)),
    # The paper has no design study on YOLACT: it is shown beside the
    # paper's BlendMask one.
    table2_yolact=dict(
        title='Table 2: basis head designs (a)-(e) on YOLACT',
        paper_model='BlendMask',
        rows=_designs('yolact', 'YOLACT', YOLACT)),
    table3=dict(
        title='Table 3: B2Inst on YOLACT and on BlendMask',
        rows=[
            Row('YOLACT', YOLACT, 'yolact', 28.1, None),
            Row('B2Inst-YOLACT', B2INST_YOLACT, 'yolact', 30.1, 'YOLACT'),
            Row('BlendMask', BLENDMASK, 'blendmask', 35.8, None),
            Row('B2Inst-BlendMask', B2INST_BLENDMASK, 'blendmask', 36.8,
                'BlendMask', B2INST_BLENDMASK_TOY),
        ]),
)

# Logged metric -> column name; logged values are fractions of 1.
METRICS = OrderedDict([('coco/segm_mAP', 'segm mAP'),
                       ('coco/segm_mAP_50', 'AP50'),
                       ('coco/segm_mAP_75', 'AP75'),
                       ('coco/bbox_mAP', 'bbox mAP'),
                       ('boundary/boundary_mAP', 'Boundary AP')])
DELTAS = ('coco/segm_mAP', 'boundary/boundary_mAP')
MISSING = '—'
# A run without validation record that wrote something this recently is
# taken as training (the toy runs log every 25 iterations, ~1-2 minutes).
ACTIVE_MINUTES = 10


def table_key(table: str, model: str = None) -> str:
    if table == '2':
        return f'table2_{model or "blendmask"}'
    if model is not None:
        raise ValueError('only Table 2 has a --model choice')
    return f'table{table}'


def find_runs(runs_dir: str, config: str, seeds=None):
    """Validation records of a config's toy runs.

    Returns:
        tuple: ``{seed: record}`` of the runs with a validation record, and
        ``{seed: work_dir}`` of the runs without one (training or stopped).
    """
    stem = osp.splitext(osp.basename(config))[0]
    pattern = re.compile(re.escape(stem) + r'_seed(\d+)')
    records, unfinished = {}, {}
    for work_dir in sorted(glob.glob(osp.join(runs_dir, stem + '_seed*'))):
        match = pattern.fullmatch(osp.basename(work_dir))
        if match is None or (seeds is not None
                             and int(match.group(1)) not in seeds):
            continue
        _, record = latest_metrics(work_dir, mode='val')
        if record is None:
            unfinished[int(match.group(1))] = work_dir
        else:
            records[int(match.group(1))] = record
    return dict(sorted(records.items())), dict(sorted(unfinished.items()))


def minutes_idle(work_dir: str) -> float:
    """Minutes since anything under ``work_dir`` was last written."""
    last = max((osp.getmtime(osp.join(d, f))
                for d, _, files in os.walk(work_dir) for f in files),
               default=osp.getmtime(work_dir))
    return (time.time() - last) / 60


def _points(record: dict, key: str):
    value = record.get(key)
    # -1: COCO's "no instance of this kind"
    return None if value is None or value < 0 else 100 * value


def _mean_std(values):
    if not values:
        return None, None
    std = statistics.stdev(values) if len(values) > 1 else None
    return statistics.mean(values), std


def build_table(key: str, runs_dir: str, root: str = None, seeds=None):
    """Collect a table's rows.

    Args:
        key (str): A key of :data:`TABLES`.
        runs_dir (str): Where the ``<config name>_seed<seed>`` work_dirs are.
        root (str, optional): The directory the config paths are relative
            to (default: this checkout).
        seeds (Iterable[int], optional): Only these seeds (default: all).

    Returns:
        list[dict]: Per row: ``row`` (:class:`Row`), ``config`` (toy config
        path), ``coco_config``, ``exists``, ``seeds``, ``unfinished``,
        ``mean``/``std`` per metric key (AP points, None when missing),
        ``delta``/``delta_std`` per key of :data:`DELTAS`, ``delta_seeds``,
        ``paper_delta``.
    """
    root = root or ROOT
    seeds = None if seeds is None else set(seeds)
    rows = OrderedDict()
    for row in TABLES[key]['rows']:
        config = row.toy or row.config.format(S=TOY_SUFFIX)
        records, unfinished = find_runs(runs_dir, config, seeds)
        entry = dict(
            row=row,
            config=config,
            coco_config=row.config.format(S=COCO_SUFFIX[row.family]),
            exists=osp.isfile(osp.join(root, config)),
            records=records,
            seeds=list(records),
            unfinished=unfinished,
            mean={},
            std={},
            delta={},
            delta_std={},
            delta_seeds=[],
            paper_delta=None)
        for metric in METRICS:
            values = [_points(r, metric) for r in records.values()]
            entry['mean'][metric], entry['std'][metric] = _mean_std(
                [v for v in values if v is not None])
        rows[row.label] = entry
    for entry in rows.values():
        base = entry['row'].base
        if base is None:
            continue
        base = rows[base]
        entry['paper_delta'] = entry['row'].paper - base['row'].paper
        # Paired by seed: a seed's change is free of that seed's luck.
        common = [s for s in entry['seeds'] if s in base['records']]
        entry['delta_seeds'] = common
        for metric in DELTAS:
            diffs = [
                _points(entry['records'][s], metric) -
                _points(base['records'][s], metric) for s in common
                if _points(entry['records'][s], metric) is not None
                and _points(base['records'][s], metric) is not None
            ]
            entry['delta'][metric], entry['delta_std'][metric] = _mean_std(
                diffs)
    return list(rows.values())


def _cell(mean, std=None, sign=False, digits=2):
    if mean is None:
        return MISSING
    text = f'{mean:+.{digits}f}' if sign else f'{mean:.{digits}f}'
    if std is not None:
        text += f' ± {std:.{digits}f}'
    return text


def status(entry: dict, seeds=None) -> str:
    """What is missing in a row, and the command that produces it ('' when
    nothing is)."""
    if not entry['exists']:
        return f'`{entry["config"]}` does not exist yet'
    command = 'bash tools/toy_ablation.sh ' + entry['config']
    notes = []
    for seed, work_dir in entry['unfinished'].items():
        if minutes_idle(work_dir) < ACTIVE_MINUTES:
            notes.append(f'seed {seed} is training in `{work_dir}`')
        else:
            notes.append(f'seed {seed} stopped before its validation (see '
                         f'`{work_dir}/train.out`); resume: `SEEDS="{seed}" '
                         f'{command}`')
    wanted = sorted(seeds) if seeds is not None else [0]
    missing = [
        s for s in wanted
        if s not in entry['records'] and s not in entry['unfinished']
    ]
    if missing and not (seeds is None and
                        (entry['records'] or entry['unfinished'])):
        seed_list = ' '.join(map(str, missing))
        notes.append(f'seed {seed_list} not run: `SEEDS="{seed_list}" '
                     f'{command}`')
    return '; '.join(notes)


def markdown(key: str, entries, runs_dir: str, seeds=None) -> str:
    spec = TABLES[key]
    delta_names = ' | '.join(f'Δ {METRICS[m]}' for m in DELTAS)
    paper_model = (f' ({spec["paper_model"]})'
                   if spec.get('paper_model') else '')
    lines = [
        f'**{spec["title"]}.** Toy runs in `{runs_dir}`: AP in points '
        '(x100), mean ± sample std over seeds; Δ: change over the baseline, '
        'on the seeds both have. Paper: COCO val2017 mask AP.', '',
        '| row | toy config | seeds | ' + ' | '.join(METRICS.values()) +
        f' | {delta_names} | paper mask AP'
        f'{paper_model} | paper Δ |',
        '| --- ' * (5 + len(METRICS) + len(DELTAS)) + '|'
    ]
    for e in entries:
        row = e['row']
        cells = [
            row.label if row.base else f'**{row.label}**',
            f'`{osp.basename(e["config"])[:-3]}`' +
            ('' if e['exists'] else ' (no config)'),
            str(len(e['seeds'])) if e['seeds'] else MISSING
        ]
        cells += [_cell(e['mean'][m], e['std'][m]) for m in METRICS]
        if row.base is None:
            cells += ['baseline'] * len(DELTAS)
            cells += [f'{row.paper:.1f}', 'baseline']
        else:
            # a change over fewer seeds than the row's mean says so
            fewer = ''
            if e['delta_seeds'] and e['delta_seeds'] != e['seeds']:
                fewer = ' (seed{} {})'.format(
                    's' if len(e['delta_seeds']) > 1 else '',
                    ' '.join(map(str, e['delta_seeds'])))
            cells += [
                _cell(e['delta'][m], e['delta_std'][m], sign=True) +
                (fewer if e['delta'][m] is not None else '') for m in DELTAS
            ]
            cells += [
                f'{row.paper:.1f}',
                _cell(e['paper_delta'], sign=True, digits=1)
            ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    if paper_model:
        lines += [
            '', f'The paper studied this on {spec["paper_model"]} only: '
            f'its column shows {spec["paper_model"]}\'s numbers.'
        ]
    todo = [(e, status(e, seeds)) for e in entries]
    todo = [(e, s) for e, s in todo if s]
    if todo:
        lines += ['', 'Missing:']
        lines += [f'- {e["row"].label}: {s}' for e, s in todo]
        lines.append(f'- all missing runs of this table: `bash '
                     f'tools/reproduce_table.sh {_cli_table(key)}`')
    return '\n'.join(lines) + '\n'


def _cli_table(key: str) -> str:
    """'table2_yolact' -> '2 --model yolact' (reproduce_table.sh's
    arguments)."""
    number, _, model = key[len('table'):].partition('_')
    return number + (f' --model {model}' if model == 'yolact' else '')


def _round(value, digits=4):
    return '' if value is None else round(value, digits)


def csv_rows(key: str, entries, seeds=None):
    header = [
        'table', 'row', 'baseline', 'config', 'config_exists', 'coco_config',
        'seeds', 'num_seeds'
    ]
    for metric in METRICS:
        name = metric.split('/')[1]
        header += [name, name + '_std']
    for metric in DELTAS:
        name = 'delta_' + metric.split('/')[1]
        header += [name, name + '_std']
    header += ['delta_seeds', 'paper_mask_AP', 'paper_delta', 'missing']
    rows = [header]
    for e in entries:
        row = e['row']
        line = [
            key, row.label, row.base or '', e['config'],
            int(e['exists']), e['coco_config'], ' '.join(map(str, e['seeds'])),
            len(e['seeds'])
        ]
        for metric in METRICS:
            line += [_round(e['mean'][metric]), _round(e['std'][metric])]
        for metric in DELTAS:
            line += [
                _round(e['delta'].get(metric)),
                _round(e['delta_std'].get(metric))
            ]
        line += [
            ' '.join(map(str, e['delta_seeds'])), row.paper,
            _round(e['paper_delta']),
            status(e, seeds).replace('`', '')
        ]
        rows.append(line)
    return rows


def plot(key: str, entries, out_file: str) -> None:
    """Bars of each non-baseline row's change over its baseline: ours (toy
    segm mAP, Boundary AP, with the seed spread) and the paper's (mask AP).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [e for e in entries if e['row'].base]
    paper_model = TABLES[key].get('paper_model')
    paper_model = f', {paper_model}' if paper_model else ''

    def toy(metric):
        return [(e['delta'][metric], e['delta_std'][metric]) for e in rows]

    series = [
        ('toy Δ segm mAP ± std', '#4c72b0', toy(DELTAS[0])),
        ('toy Δ Boundary AP ± std', '#55a868', toy(DELTAS[1])),
        (f'paper Δ mask AP (COCO{paper_model})', '#c44e52',
         [(e['paper_delta'], None) for e in rows]),
    ]
    x = np.arange(len(rows))
    width = 0.27
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(rows) + 2), 4.2))
    for i, (name, color, values) in enumerate(series):
        pos = x + (i - 1) * width
        heights = [np.nan if v is None else v for v, _ in values]
        ax.bar(pos, heights, width, label=name, color=color)
        for p, (v, s) in zip(pos, values):
            if v is None:
                ax.text(
                    p,
                    0,
                    'no run',
                    ha='center',
                    va='bottom',
                    rotation=90,
                    fontsize=8)
            elif s is not None:
                ax.errorbar(p, v, yerr=s, color='black', capsize=3)
    ax.axhline(0, color='black', linewidth=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels([f'{e["row"].label}\nvs {e["row"].base}' for e in rows],
                       fontsize=8)
    ax.set_ylabel('Δ AP (points) over the baseline\n(± std: over seeds)')
    ax.set_title(TABLES[key]['title'], fontsize=9)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    fig.legend(loc='lower center', ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(out_file, dpi=100)
    plt.close(fig)


def write_outputs(key: str, entries, out_dir: str, runs_dir: str, seeds=None):
    """Write ``<key>.md``, ``.csv`` and ``.png`` into out_dir; return the
    markdown and the three paths."""
    os.makedirs(out_dir, exist_ok=True)
    text = markdown(key, entries, runs_dir, seeds)
    paths = [osp.join(out_dir, key + ext) for ext in ('.md', '.csv', '.png')]
    with open(paths[0], 'w') as f:
        f.write(text)
    with open(paths[1], 'w', newline='') as f:
        csv.writer(f).writerows(csv_rows(key, entries, seeds))
    plot(key, entries, paths[2])
    return text, paths


def train_missing(entries, seeds, jobs: int) -> bool:
    """Train the missing (row, seed) runs with tools/toy_ablation.sh (one
    call per set of missing seeds), resuming stopped ones and leaving alone
    those still training. Returns whether all succeeded."""
    groups = OrderedDict()
    for e in entries:
        busy = [
            s for s, work_dir in e['unfinished'].items()
            if minutes_idle(work_dir) < ACTIVE_MINUTES
        ]
        for s in busy:
            print(f'[paper_tables] {e["unfinished"][s]} is training: not '
                  'started again')
        missing = tuple(s for s in seeds
                        if s not in e['records'] and s not in busy)
        if e['exists'] and missing and e['config'] not in groups.get(
                missing, []):
            groups.setdefault(missing, []).append(e['config'])
    ok = True
    for missing, configs in groups.items():
        env = dict(
            os.environ, SEEDS=' '.join(map(str, missing)), JOBS=str(jobs))
        print(
            f'[paper_tables] training seeds {env["SEEDS"]} of '
            f'{" ".join(configs)}',
            flush=True)
        done = subprocess.run(
            ['bash',
             osp.join(ROOT, 'tools', 'toy_ablation.sh'), *configs],
            cwd=ROOT,
            env=env)
        ok &= done.returncode == 0
    return ok


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--table', required=True, choices=['1', '2', '3'])
    parser.add_argument(
        '--model',
        choices=['blendmask', 'yolact'],
        help='Table 2 only: the model of the basis-head designs '
        '(default: blendmask, as the paper)')
    parser.add_argument('--runs-dir', default=RUNS_DIR)
    parser.add_argument('--out-dir', default='work_dirs/tables')
    parser.add_argument(
        '--seeds',
        help='e.g. "0 1": only these seeds (default: all found; with --run, '
        'train seed 0)')
    parser.add_argument(
        '--run',
        action='store_true',
        help='first train the missing toy runs (tools/toy_ablation.sh)')
    parser.add_argument(
        '--jobs', type=int, default=1, help='--run: runs trained at once')
    args = parser.parse_args(argv)
    try:
        args.key = table_key(args.table, args.model)
    except ValueError as e:
        parser.error(str(e))
    try:
        args.seed_list = None if args.seeds is None else sorted(
            {int(s)
             for s in args.seeds.replace(',', ' ').split()})
    except ValueError:
        parser.error(f'--seeds "{args.seeds}": give integers, e.g. "0 1"')
    if args.run and osp.realpath(args.runs_dir) != osp.realpath(
            osp.join(ROOT, RUNS_DIR)):
        parser.error(f'--run trains into {RUNS_DIR} (tools/toy_ablation.sh);'
                     ' leave --runs-dir at its default')
    return args


def main(argv=None):
    args = parse_args(argv)
    entries = build_table(args.key, args.runs_dir, seeds=args.seed_list)
    ok = True
    if args.run:
        ok = train_missing(entries, args.seed_list or [0], args.jobs)
        entries = build_table(args.key, args.runs_dir, seeds=args.seed_list)
    text, paths = write_outputs(args.key, entries, args.out_dir, args.runs_dir,
                                args.seed_list)
    print(text)
    print('written: ' + ', '.join(paths))
    if not ok:
        print(
            '[paper_tables] some toy runs failed (see their train.out)',
            file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
