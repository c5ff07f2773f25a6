"""Tables 1-3 of the B2Inst paper on the toy set, beside the paper's COCO
numbers: train the missing runs, then print the tables.

    python tools/tables.py 1 2 3 [--model blendmask|yolact]
        [--seeds 0 1 2] [--rows LABEL ...] [--train [--jobs 2] [--threads N]]
        [--runs-dir work_dirs/ablation] [--out-dir work_dirs/tables]
        [--val-images 2000] [--record] [--ledger docs/toy_runs.jsonl]

Every row is a toy config; its runs are ``<runs-dir>/<config name>_seed<S>``
(trained with ``--train``: ``tools/train.py CONFIG --resume --cfg-options
randomness.seed=S``, ``--jobs`` at a time with the machine's cores split
between them unless ``--threads`` says otherwise; two tables.py trainings
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

``--record`` adds every finished run under ``--runs-dir`` (its seed, CPU,
CPU time, model fingerprint, last validation and extended-split scores) to
the ledger ``docs/toy_runs.jsonl``, which is committed: work_dirs do not
outlive a machine. A (row, seed) missing under ``--runs-dir`` is taken from
the ledger when its entry trained the model the config builds now, and
``--train`` does not train it again, so seeds added on later machines
accumulate into the same tables. ``--rows LABEL ...`` restricts a table to
some rows and their baselines.
"""
import argparse
import csv
import functools
import glob
import hashlib
import inspect
import json
import math
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time
from collections import OrderedDict, namedtuple
from concurrent.futures import ThreadPoolExecutor

from mmb2inst.utils.run_logs import latest_metrics

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
RUNS_DIR = 'work_dirs/ablation'
RUN_INFO = 'run_info.json'  # wall time, threads, CPU time of a --train run
# Every finished run's scores, kept in the repository: work_dirs do not
# outlive a machine, this file does (:func:`record_runs`).
LEDGER = 'docs/toy_runs.jsonl'

# A row: its label, its toy config, the COCO config of the same row (None
# for toy-only ablations), the paper's COCO val2017 mask AP (None: not in
# the paper), and the label of its baseline (None: it is one).
Row = namedtuple('Row', 'label toy coco paper base')
TOY = '_r18_1xb8-12e_toy.py'
COCO = dict(yolact='_r50_1xb8-55e_coco.py', blendmask='_r50_1x_coco.py')


def _row(label, family, stem, paper, base, coco=True):
    folder = family if stem == family else f'b2inst_{family}'
    return Row(label, f'configs/{folder}/{stem}{TOY}',
               f'configs/{folder}/{stem}{COCO[family]}' if coco else None,
               paper, base)


def _table2(family):
    host = 'YOLACT' if family == 'yolact' else 'BlendMask'
    rows = [_row(host, family, family, 35.8, None)]
    for design, paper in zip('abcd', (35.7, 36.0, 36.0, 36.0)):
        rows.append(
            _row(f'({design})', family, f'b2inst-{family}_design-{design}',
                 paper, host))
    rows.append(_row('(e)', family, f'b2inst-{family}_hbb', 36.2, host))
    return rows


TABLES = OrderedDict([
    ('1',
     dict(
         title='Table 1: holistic boundary basis (HBB), boundary Dice '
         'scoring (BS) and mask IoU scoring (MS) on BlendMask',
         rows=[
             _row('BlendMask', 'blendmask', 'blendmask', 35.8, None),
             _row('+HBB', 'blendmask', 'b2inst-blendmask_hbb', 36.2,
                  'BlendMask'),
             _row('+HBB+BS', 'blendmask', 'b2inst-blendmask_hbb-bs', 36.3,
                  'BlendMask'),
             _row('+HBB+MS', 'blendmask', 'b2inst-blendmask_hbb-ms', 36.6,
                  'BlendMask'),
             _row('+HBB+BS+MS', 'blendmask', 'b2inst-blendmask', 36.8,
                  'BlendMask'),
         ])),
    ('2',
     dict(
         title='Table 2: basis-head designs (a)-(e)',
         rows=_table2('blendmask'),
         yolact_rows=_table2('yolact'))),
    ('basis',
     dict(
         title='Ablation: the form of the boundary basis in BlendMask\'s '
         'blender',
         rows=[
             _row('BlendMask', 'blendmask', 'blendmask', 35.8, None),
             _row('+HBB, probabilities', 'blendmask', 'b2inst-blendmask_hbb',
                  36.2, 'BlendMask'),
             _row(
                 '+HBB, logits',
                 'blendmask',
                 'b2inst-blendmask_hbb-logits',
                 None,
                 'BlendMask',
                 coco=False),
             _row(
                 '+HBB, learned a * p + b',
                 'blendmask',
                 'b2inst-blendmask_hbb-affine',
                 None,
                 'BlendMask',
                 coco=False),
         ])),
    ('scorer',
     dict(
         title='Ablation: the holistic boundary basis (HBB) and the '
         'boundary-aware scorer (BS + MS) on BlendMask, each with and '
         'without the other',
         rows=[
             _row('BlendMask', 'blendmask', 'blendmask', 35.8, None),
             _row(
                 '+BS+MS (no HBB)',
                 'blendmask',
                 'b2inst-blendmask_bs-ms',
                 None,
                 'BlendMask',
                 coco=False),
             _row('+HBB', 'blendmask', 'b2inst-blendmask_hbb', 36.2,
                  'BlendMask'),
             _row('+HBB+BS+MS', 'blendmask', 'b2inst-blendmask', 36.8,
                  'BlendMask'),
         ])),
    ('3',
     dict(
         title='Table 3: B2Inst (HBB + BS + MS) on YOLACT and BlendMask',
         rows=[
             _row('YOLACT', 'yolact', 'yolact', 28.1, None),
             _row('B2Inst-YOLACT', 'yolact', 'b2inst-yolact', 30.1, 'YOLACT'),
             _row('BlendMask', 'blendmask', 'blendmask', 35.8, None),
             _row('B2Inst-BlendMask', 'blendmask', 'b2inst-blendmask', 36.8,
                  'BlendMask'),
         ])),
])

# Logged metric -> column; logged values are fractions of 1.
METRICS = OrderedDict([('coco/segm_mAP', 'segm mAP'),
                       ('coco/segm_mAP_75', 'AP75'),
                       ('coco/bbox_mAP', 'bbox mAP'),
                       ('boundary/boundary_mAP', 'Boundary AP')])
DELTAS = ('coco/segm_mAP', 'boundary/boundary_mAP')
MISSING = '—'
# Two-sided 95% quantiles of Student's t, by degrees of freedom (1.96
# beyond 30).
T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    11: 2.201,
    12: 2.179,
    13: 2.160,
    14: 2.145,
    15: 2.131,
    16: 2.120,
    17: 2.110,
    18: 2.101,
    19: 2.093,
    20: 2.086,
    21: 2.080,
    22: 2.074,
    23: 2.069,
    24: 2.064,
    25: 2.060,
    26: 2.056,
    27: 2.052,
    28: 2.048,
    29: 2.045,
    30: 2.042
}
# The half-width (AP points) of the 95% CI the protocol aims at.
RESOLUTION = 0.5


def table_rows(table: str, model: str = 'blendmask'):
    spec = TABLES[table]
    return spec['yolact_rows'] if table == '2' and model == 'yolact' \
        else spec['rows']


def select_rows(rows, labels):
    """The rows named in ``labels`` and the baselines they are compared
    with, in the table's order (every row without ``labels``)."""
    if not labels:
        return rows
    known = [r.label for r in rows]
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise ValueError(f'no row {", ".join(map(repr, unknown))} in this '
                         f'table; its rows: {", ".join(known)}')
    wanted = set(labels) | {r.base for r in rows if r.label in labels}
    return [r for r in rows if r.label in wanted]


def work_dir(runs_dir: str, config: str, seed: int) -> str:
    stem = osp.splitext(osp.basename(config))[0]
    return osp.join(runs_dir, f'{stem}_seed{seed}')


def _with_defaults(cfg):
    """``cfg`` with every registered module's unset arguments filled by
    their defaults (walking the class's bases) and tuples as lists, so that
    two configs building the same model compare equal."""
    from mmdet.registry import MODELS
    if isinstance(cfg, (list, tuple)):
        return [_with_defaults(v) for v in cfg]
    if not isinstance(cfg, dict):
        return cfg
    out = {k: _with_defaults(v) for k, v in cfg.items()}
    cls = MODELS.get(out['type']) if isinstance(out.get('type'), str) else None
    for klass in getattr(cls, '__mro__', ()):
        if '__init__' not in vars(klass):
            continue
        for name, param in inspect.signature(
                klass.__init__).parameters.items():
            if name not in out and param.default is not param.empty:
                out[name] = _with_defaults(param.default)
    return out


def stale(run_dir: str, config: str) -> bool:
    """Whether the run in ``run_dir`` trained another model than ``config``
    now builds (its dumped config's ``model``, defaults filled in, differs):
    the result of a config edited since must not stand in the table for the
    config as it is."""
    dumped = osp.join(run_dir, osp.basename(config))
    if not osp.isfile(dumped):
        return False
    # not cached: a retrained run rewrites its dump
    return _model_of(dumped) != _current_model(config)


def _model_of(config: str) -> dict:
    """The ``model`` of the config file, defaults filled in."""
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules(init_default_scope=False)
    return _with_defaults(Config.fromfile(config).model.to_dict())


@functools.lru_cache(maxsize=None)
def _current_model(config: str) -> dict:
    """:func:`_model_of` a row's config, parsed once per process (checked
    for every seed, before training and again for the table)."""
    return _model_of(config)


def model_digest(model: dict) -> str:
    """A short fingerprint of a model config (:func:`_model_of`): two runs
    with the same one trained the same model."""
    text = json.dumps(model, sort_keys=True, default=repr)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def current_digest(config: str) -> str:
    return model_digest(_current_model(config))


def read_ledger(path: str) -> dict:
    """``{(config, seed): entry}`` of the ledger at ``path`` (empty when
    there is none)."""
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        entries = [json.loads(line) for line in f if line.strip()]
    return {(e['config'], e['seed']): e for e in entries}


def ledger_entry(ledger: dict, config: str, seed: int):
    """The ledger's entry of ``config`` / ``seed`` if it trained the model
    the config builds now, else None."""
    entry = ledger.get((config, seed))
    if entry is None or entry['model'] != current_digest(config):
        return None
    return entry


def _metrics(record: dict) -> dict:
    return {k: record[k] for k in METRICS if k in record}


def record_runs(rows, runs_dir: str, seeds, path: str) -> int:
    """Add every finished, current run of ``rows`` under ``runs_dir`` to
    the ledger at ``path``: its config, seed, model fingerprint, CPU(s),
    threads, training CPU time, last validation and any scores on an
    extended val split (``val<N>``). An entry of the same run (same model
    and CPUs) gains what is new; a draw of the same seed on another CPU
    does not replace the one recorded (it is another draw, and the first
    one's pairs stand). Returns the number of entries written or updated.
    """
    ledger = read_ledger(path)
    changed = 0
    for row in rows:
        for seed in seeds:
            run = work_dir(runs_dir, row.toy, seed)
            _, val = latest_metrics(run, mode='val')
            if val is None or stale(run, row.toy):
                continue
            info = {}
            if osp.isfile(osp.join(run, RUN_INFO)):
                with open(osp.join(run, RUN_INFO)) as f:
                    info = json.load(f)
            scores = dict(val=_metrics(val))
            for scored in sorted(glob.glob(osp.join(run, 'val[0-9]*'))):
                _, record = latest_metrics(scored, mode='test')
                if record is not None:
                    scores[osp.basename(scored)] = _metrics(record)
            entry = dict(
                config=row.toy,
                seed=seed,
                model=current_digest(row.toy),
                cpus=_cpus(info),
                threads=info.get('threads'),
                cpu_seconds=info.get('cpu_seconds'),
                scores=scores)
            old = ledger.get((row.toy, seed))
            if old is not None and old['model'] == entry['model']:
                if old['cpus'] != entry['cpus']:
                    print(
                        f'[tables] not recorded: {run} is another draw of a '
                        f'seed the ledger holds from {old["cpus"]}',
                        flush=True)
                    continue
                entry['scores'] = dict(old['scores'], **scores)
                if entry == {k: v for k, v in old.items() if k != 'recorded'}:
                    continue
            entry['recorded'] = time.strftime('%Y-%m-%d')
            ledger[(row.toy, seed)] = entry
            changed += 1
    if changed:
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(path, 'w') as f:
            for key in sorted(ledger):
                f.write(json.dumps(ledger[key], sort_keys=True) + '\n')
    return changed


def set_aside(run_dir: str) -> str:
    """Rename a stale run out of the way (never delete a run)."""
    target = f'{run_dir}.stale-{time.strftime("%Y%m%d-%H%M%S")}'
    os.rename(run_dir, target)
    return target


def points(record: dict, key: str):
    value = None if record is None else record.get(key)
    return None if value is None or value < 0 else 100 * value


def _half_width(sd: float, n: int) -> float:
    """Half-width of the 95% confidence interval of a mean over ``n``
    values of sample std ``sd``."""
    return T975.get(n - 1, 1.96) * sd / math.sqrt(n)


def mean_ci(values):
    """Mean and the half-width of its 95% confidence interval (None with
    fewer than two values)."""
    if not values:
        return None, None
    mean = statistics.mean(values)
    if len(values) < 2:
        return mean, None
    return mean, _half_width(statistics.stdev(values), len(values))


def seeds_needed(diffs, half_width: float = RESOLUTION):
    """Fewest seeds whose paired 95% CI would be at most ``half_width`` on
    each side if the paired differences kept the spread measured in
    ``diffs`` (None with fewer than two)."""
    if len(diffs) < 2:
        return None
    sd = statistics.stdev(diffs)
    n = 2
    while _half_width(sd, n) > half_width:
        n += 1
    return n


def collect(rows, runs_dir: str, seeds, val_images=None, ledger=None):
    """Per row: ``records`` ``{seed: last validation record}`` (with
    ``val_images``: the run's score on the val split extended to that many
    images instead, see :func:`evaluate_missing`; a run not under
    ``runs_dir``: its entry in ``ledger``, :func:`read_ledger`, if that
    trained the current model), ``mean`` / ``std`` per
    metric, and (non-baseline rows) ``delta`` / ``ci`` per metric of
    :data:`DELTAS` with ``paired`` seeds, ``paper_delta`` and
    ``seeds_needed`` (for a ±:data:`RESOLUTION` CI of the segm change)."""
    out = OrderedDict()
    for row in rows:
        records = {}
        for seed in seeds:
            run = work_dir(runs_dir, row.toy, seed)
            if val_images:
                _, record = latest_metrics(
                    eval_dir(run, val_images), mode='test')
            else:
                _, record = latest_metrics(run, mode='val')
            if record is not None and stale(run, row.toy):
                print(
                    f'[tables] left out {run}: it trained another model '
                    f'than {row.toy} builds now (retrain it with --train)',
                    flush=True)
                record = None
            recorded = ledger_entry(ledger or {}, row.toy, seed)
            if record is None and recorded is not None:
                record = recorded['scores'].get(
                    f'val{val_images}' if val_images else 'val')
            if record is not None:
                records[seed] = record
        entry = dict(row=row, records=records, mean={}, std={})
        for key in METRICS:
            values = [points(r, key) for r in records.values()]
            values = [v for v in values if v is not None]
            entry['mean'][key] = statistics.mean(values) if values else None
            entry['std'][key] = statistics.stdev(values) if len(
                values) > 1 else None
        out[row.label] = entry
    for entry in out.values():
        row = entry['row']
        if row.base is None:
            continue
        base = out[row.base]
        entry['paper_delta'] = (None if row.paper is None else row.paper -
                                base['row'].paper)
        paired = [s for s in entry['records'] if s in base['records']]
        entry['paired'] = paired
        entry['delta'], entry['ci'] = {}, {}
        for key in DELTAS:
            diffs = [
                points(entry['records'][s], key) -
                points(base['records'][s], key) for s in paired
            ]
            entry['delta'][key], entry['ci'][key] = mean_ci(diffs)
            if key == DELTAS[0]:
                entry['seeds_needed'] = seeds_needed(diffs)
    return list(out.values())


def _num(value, digits=1, sign=False):
    if value is None:
        return MISSING
    return f'{value:+.{digits}f}' if sign else f'{value:.{digits}f}'


def _delta_cell(mean, ci):
    if mean is None:
        return MISSING
    if ci is None:
        return _num(mean, sign=True)
    return f'{mean:+.1f} [{mean - ci:+.1f}, {mean + ci:+.1f}]'


def markdown(title: str, entries, seeds) -> str:
    columns = (['row', 'toy config', 'seeds'] + list(METRICS.values()) +
               [f'Δ {METRICS[k]}' for k in DELTAS] +
               [f'seeds for ±{RESOLUTION}', 'paper AP', 'paper Δ'])
    lines = [
        f'**{title}** (toy set; AP points, mean ± std over seeds '
        f'{" ".join(map(str, seeds))}; Δ: paired by seed, mean [95% CI]; '
        'paper: COCO val2017 mask AP)', '', '| ' + ' | '.join(columns) + ' |',
        '| --- ' * len(columns) + '|'
    ]
    for e in entries:
        row = e['row']
        cells = [
            row.label if row.base else f'**{row.label}**',
            f'`{osp.basename(row.toy)[:-3]}`',
            str(len(e['records'])) if e['records'] else MISSING
        ]
        for key in METRICS:
            text = _num(e['mean'][key])
            if e['std'][key] is not None:
                text += f' ± {e["std"][key]:.1f}'
            cells.append(text)
        paper = MISSING if row.paper is None else f'{row.paper:.1f}'
        if row.base is None:
            cells += ['baseline'] * len(DELTAS) + ['', paper, '']
        else:
            cells += [_delta_cell(e['delta'][k], e['ci'][k]) for k in DELTAS]
            needed = e['seeds_needed']
            cells.append(MISSING if needed is None else str(needed))
            cells += [paper, _num(e['paper_delta'], sign=True)]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def csv_rows(table: str, entries):
    header = [
        'table', 'row', 'baseline', 'toy_config', 'coco_config', 'seeds'
    ] + [k.split('/')[1] for k in METRICS]
    header += [f'delta_{k.split("/")[1]}' for k in DELTAS]
    header += [f'ci95_{k.split("/")[1]}' for k in DELTAS]
    header += [f'seeds_for_ci{RESOLUTION}_{DELTAS[0].split("/")[1]}']
    header += ['paper_mask_AP', 'paper_delta']
    rows = [header]
    for e in entries:
        row = e['row']
        line = [
            table, row.label, row.base or '', row.toy, row.coco or '',
            ' '.join(map(str, e['records']))
        ]
        line += [e['mean'][k] for k in METRICS]
        line += [e.get('delta', {}).get(k) for k in DELTAS]
        line += [e.get('ci', {}).get(k) for k in DELTAS]
        line += [e.get('seeds_needed')]
        line += [row.paper, e.get('paper_delta')]
        rows.append(['' if v is None else v for v in line])
    return rows


def plot(title: str, entries, out_file: str) -> None:
    """Bars of each row's change over its baseline: ours (segm mAP and
    Boundary AP, with the 95% CI) and the paper's (mask AP)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = [e for e in entries if e['row'].base]
    series = [(f'toy Δ {METRICS[k]} [95% CI]', color,
               [(e['delta'][k], e['ci'][k]) for e in rows])
              for k, color in zip(DELTAS, ('#4c72b0', '#55a868'))]
    series.append(
        ('paper Δ mask AP (COCO)', '#c44e52', [(e['paper_delta'], None)
                                               for e in rows]))
    width = 0.27
    fig, ax = plt.subplots(figsize=(max(6., 1.6 * len(rows) + 2), 4.2))
    for i, (name, color, values) in enumerate(series):
        xs = [x + (i - 1) * width for x in range(len(rows))]
        heights = [math.nan if v is None else v for v, _ in values]
        ax.bar(xs, heights, width, label=name, color=color)
        for x, (v, ci) in zip(xs, values):
            if v is not None and ci is not None:
                ax.errorbar(x, v, yerr=ci, color='black', capsize=3)
    ax.axhline(0, color='black', linewidth=0.8)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([f'{e["row"].label}\nvs {e["row"].base}' for e in rows],
                       fontsize=8)
    ax.set_ylabel('Δ AP (points) over the baseline')
    ax.set_title(title, fontsize=9)
    fig.legend(loc='lower center', ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(out_file, dpi=100)
    plt.close(fig)


def _run_infos(runs_dir: str, rows, seeds, ledger=None):
    """The run_info of every run of the table: its run_info.json under
    ``runs_dir``, else its ledger entry."""
    for row in rows:
        for seed in seeds:
            path = osp.join(work_dir(runs_dir, row.toy, seed), RUN_INFO)
            if osp.isfile(path):
                with open(path) as f:
                    yield json.load(f)
                continue
            recorded = ledger_entry(ledger or {}, row.toy, seed)
            if recorded is not None:
                yield recorded


def run_seconds(runs_dir: str, rows, seeds, ledger=None) -> float:
    """Training CPU time of the table's runs (from their run_info.json or
    ledger entry; wall time x threads for runs recorded without it)."""
    return sum(
        info.get('cpu_seconds') or (info.get('seconds', 0) *
                                    (info.get('threads') or 1))
        for info in _run_infos(runs_dir, rows, seeds, ledger))


def run_cpus(runs_dir: str, rows, seeds, ledger=None) -> list:
    """The CPUs the table's runs were trained on (runs recorded before the
    CPU was: not counted). The same seed on another CPU is another draw, so
    a table should come from one."""
    return sorted({
        cpu
        for info in _run_infos(runs_dir, rows, seeds, ledger)
        for cpu in _cpus(info)
    })


def _cpus(info: dict) -> list:
    """Every CPU a run trained on (a resumed run may span machines)."""
    return info.get('cpus') or ([info['cpu']] if info.get('cpu') else [])


def cpu_name() -> str:
    """This machine's CPU model, as /proc/cpuinfo names it."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=None)
def _test_config(config: str):
    """A row's config, parsed once per process for :func:`extended_val`
    and :func:`eval_options` (read only)."""
    from mmengine.config import Config
    return Config.fromfile(osp.join(ROOT, config))


def extended_val(config: str, num_images: int):
    """Where and how to generate the val split of ``config``'s toy set
    extended to ``num_images`` images: ``(data_root, generator settings)``.

    The generator seeds every image by (seed, split, index), so the first
    images of the extended split are the val images the runs validated on
    and the rest are new draws of the same distribution, none of them a
    training image. The set lives beside the config's own data_root, as
    ``<data_root>_val<N>/``.
    """
    dataset = _test_config(config).test_dataloader.dataset
    settings = dict(dataset.get('generator') or {})
    settings.update(num_train=0, num_val=num_images)
    return f'{dataset.data_root.rstrip("/")}_val{num_images}/', settings


def eval_dir(run_dir: str, num_images: int) -> str:
    """Where the score of a run on the extended val split is kept: inside
    the run, so that it moves with it when the run is set aside."""
    return osp.join(run_dir, f'val{num_images}')


def eval_options(config: str, data_root: str, settings: dict) -> list:
    """``--cfg-options`` that point ``config``'s test split at the toy set
    of ``settings`` under ``data_root``."""
    cfg = _test_config(config)
    ann = osp.join(data_root, cfg.test_dataloader.dataset.ann_file)
    opts = [f'test_dataloader.dataset.data_root={data_root}']
    opts += [
        f'test_dataloader.dataset.generator.{k}={v}'
        for k, v in sorted(settings.items())
    ]
    evaluators = cfg.test_evaluator
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
        keys = ['test_evaluator.ann_file']
    else:
        keys = [f'test_evaluator.{i}.ann_file' for i in range(len(evaluators))]
    opts += [
        f'{key}={ann}' for key, e in zip(keys, evaluators) if 'ann_file' in e
    ]
    return opts


def last_checkpoint(run_dir: str):
    """The run's last checkpoint, looked up in ``run_dir`` (the path
    MMEngine recorded may be another machine's or the run's old name)."""
    marker = osp.join(run_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker) as f:
        path = osp.join(run_dir, osp.basename(f.read().strip()))
    return path if osp.isfile(path) else None


def _evaluate_one(config: str, run_dir: str, num_images: int, options: list,
                  threads: int) -> bool:
    """Score the run's last checkpoint with ``tools/test.py --cfg-options
    *options`` (:func:`eval_options`, built beforehand: configs do not
    parse safely in threads) into :func:`eval_dir`."""
    out = eval_dir(run_dir, num_images)
    checkpoint = last_checkpoint(run_dir)
    if checkpoint is None:
        print(
            f'[tables] cannot score {run_dir}: no last_checkpoint there',
            flush=True)
        return False
    os.makedirs(out, exist_ok=True)
    args = [
        sys.executable,
        osp.join(ROOT, 'tools', 'test.py'), config, checkpoint, '--work-dir',
        out, '--cfg-options', *options
    ]
    env = dict(
        os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    print(f'[tables] scoring {run_dir} on {num_images} val images', flush=True)
    with open(osp.join(out, 'test.out'), 'a') as log:
        code = subprocess.call(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        print(
            f'[tables] FAILED: scoring {run_dir}, see {out}/test.out',
            flush=True)
    return code == 0


def evaluate_missing(rows, runs_dir: str, seeds, num_images: int,
                     jobs: int) -> bool:
    """Score every finished, current run of ``rows`` without a score on the
    val split extended to ``num_images`` images (generated first if
    needed), ``jobs`` at a time; returns whether all succeeded."""
    from mmb2inst.datasets import ensure_toy_dataset
    todo, seen, sets = [], set(), {}
    for row in rows:
        data_root, settings = extended_val(row.toy, num_images)
        options = eval_options(row.toy, data_root, settings)
        for seed in seeds:
            run = work_dir(runs_dir, row.toy, seed)
            finished = latest_metrics(run, mode='val')[1] is not None
            if run in seen or not finished or stale(run, row.toy):
                continue  # collect() says why a stale run is left out
            seen.add(run)
            scored = latest_metrics(eval_dir(run, num_images), mode='test')
            if scored[1] is None:
                todo.append((row.toy, run, num_images, options))
                sets[data_root] = settings
    for data_root, settings in sets.items():  # once, before the jobs start
        ensure_toy_dataset(osp.join(ROOT, data_root), settings)
    threads = threads_per_run(jobs)
    with ThreadPoolExecutor(jobs) as pool:
        results = list(
            pool.map(lambda job: _evaluate_one(*job, threads), todo))
    return all(results)


def _train_one(config: str, seed: int, runs_dir: str, threads: int) -> bool:
    out = work_dir(runs_dir, config, seed)
    os.makedirs(out, exist_ok=True)
    args = [
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', out,
        '--resume', '--cfg-options', f'randomness.seed={seed}'
    ]
    env = dict(
        os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    print(f'[tables] training {config} seed {seed} -> {out}', flush=True)
    start = time.time()
    with open(osp.join(out, 'train.out'), 'a') as log:
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        # wait4: this child's own CPU time, which concurrent jobs on the
        # same cores do not inflate as they do its wall time
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    cpu_seconds = usage.ru_utime + usage.ru_stime
    if proc.returncode != 0:
        print(
            f'[tables] FAILED: {config} seed {seed}, see {out}/train.out',
            flush=True)
        return False
    info_path = osp.join(out, RUN_INFO)
    seconds = time.time() - start
    cpu = cpu_name()
    cpus = [cpu]
    if osp.isfile(info_path):  # a resumed run adds to its first part
        with open(info_path) as f:
            before = json.load(f)
        seconds += before['seconds']
        cpu_seconds += before.get('cpu_seconds',
                                  before['seconds'] * before['threads'])
        cpus = sorted(set(_cpus(before)) | set(cpus))
    with open(info_path, 'w') as f:
        json.dump(
            dict(
                seconds=seconds,
                threads=threads,
                cpu_seconds=cpu_seconds,
                cpu=cpu,
                cpus=cpus), f)
    return True


def threads_per_run(jobs: int, threads=None, cores=None) -> int:
    """``threads``, or the machine's cores split between ``jobs``."""
    cores = cores or os.cpu_count() or 1
    return threads if threads else max(1, cores // jobs)


def oversubscription_warning(jobs: int, threads: int, cores: int, load: float):
    """Why runs of ``threads`` threads, ``jobs`` at a time, would crawl on
    ``cores`` cores with a 1-minute load average ``load`` (None if they
    would not).

    PyTorch's OpenMP threads spin while they wait for each other: threads
    that share cores with other busy threads wait for every step (measured
    here: two ``tables.py --jobs 1`` side by side on 2 cores, 2 threads a
    run, trained YOLACT at 2-9 s an iteration instead of 0.4).
    """
    if jobs * threads > cores:
        return (f'{jobs} runs x {threads} threads > {cores} cores: the runs '
                'will wait for each other\'s cores; lower --jobs or '
                '--threads.')
    if threads > 1 and load >= 1:
        return (f'the load average is {load:.1f} before training: another '
                f'job uses the cores, and runs of {threads} threads would '
                'spin-wait for them (5-20x slower); pass --threads 1 or '
                'wait for it to finish.')
    return None


def train_missing(rows,
                  runs_dir: str,
                  seeds,
                  jobs: int,
                  ledger=None,
                  threads=None) -> bool:
    """Train every (row, seed) without a validation record under
    ``runs_dir`` or a current entry in ``ledger``, ``jobs`` at a time
    (``threads`` each, default: the cores split between them); returns
    whether all succeeded."""
    todo = []
    # seed by seed: a --train stopped part-way leaves whole seeds, every
    # row of a seed beside its baseline, not a few rows with many seeds
    for seed in seeds:
        for row in rows:
            run = work_dir(runs_dir, row.toy, seed)
            if osp.isdir(run) and stale(run, row.toy):
                print(
                    f'[tables] {run} trained another model than {row.toy} '
                    f'builds now; moved to {set_aside(run)}, retraining',
                    flush=True)
            _, record = latest_metrics(run, mode='val')
            if record is None and not osp.isdir(run) and ledger_entry(
                    ledger or {}, row.toy, seed) is not None:
                continue  # recorded on an earlier machine
            if record is None and (row.toy, seed) not in todo:
                todo.append((row.toy, seed))
    threads = threads_per_run(jobs, threads)
    warning = oversubscription_warning(jobs, threads,
                                       os.cpu_count() or 1,
                                       os.getloadavg()[0]) if todo else None
    if warning:
        print(f'[tables] warning: {warning}', flush=True)
    with ThreadPoolExecutor(jobs) as pool:
        results = list(
            pool.map(lambda job: _train_one(*job, runs_dir, threads), todo))
    return all(results)


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
    parser.add_argument('--runs-dir', default=RUNS_DIR)
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
    args = parser.parse_args(argv)
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
        ledger = read_ledger(ledger_path)
        if args.train:
            ok &= train_missing(rows, args.runs_dir, args.seeds, args.jobs,
                                ledger, args.threads)
        if args.val_images:
            ok &= evaluate_missing(rows, args.runs_dir, args.seeds,
                                   args.val_images, args.jobs)
        if args.record:
            changed = record_runs(rows, args.runs_dir, args.seeds, ledger_path)
            print(
                f'[tables] {changed} runs recorded in {ledger_path}',
                flush=True)
            ledger = read_ledger(ledger_path)
        entries = collect(rows, args.runs_dir, args.seeds, args.val_images,
                          ledger)
        title = TABLES[table]['title']
        if table == '2':
            title += ' on ' + ('YOLACT'
                               if args.model == 'yolact' else 'BlendMask')
        text = markdown(title, entries, args.seeds)
        if table == '2' and args.model == 'yolact':
            text += ('\nThe paper studies the designs on BlendMask only: its '
                     'columns are BlendMask\'s.\n')
        if args.val_images:
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
        if args.val_images:
            name += f'_val{args.val_images}'
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
