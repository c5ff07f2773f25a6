"""Helpers of the smoke runs of the shipped COCO configs on the synthetic
COCO-format set (``tools/dataset_converters/make_synthetic_coco.py``): which
configs run and at which input scale, the overrides a smoke run may make,
the run itself (:func:`smoke_run`, used in-process by
``tests/coco_smoke.py``) and what it leaves behind (training log, metrics,
detections per validation image)."""
import glob
import json
import math
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter

import pytest
from mmengine.config import Config
from toy_runs import ROOT, load_tool

# the overrides of tools/analysis_tools/loss_grad_norms.py's short runs
short_run_options = load_tool(
    'analysis_tools/ablation/short_run').short_run_options

COCO_CONFIGS = sorted(
    osp.relpath(p, ROOT) for p in glob.glob(
        osp.join(ROOT, 'configs', '**', '*_coco.py'), recursive=True))

# How CI runs each shipped COCO config: 'full' at the config's own input
# scale, 'reduced' with every resize of its pipelines scaled by
# REDUCED_SCALE (the pipeline types and every other key unchanged). A new
# COCO config must be added here, or to SCHEDULE_TWINS.
SMOKE_RUNS = {
    'configs/b2inst_blendmask/b2inst-blendmask_r50_1x_coco.py': 'full',
    'configs/b2inst_yolact/b2inst-yolact_r50_1xb8-55e_coco.py': 'full',
    'configs/b2inst_blendmask/b2inst-blendmask_crisp-deng_r50_1x_coco.py':
    'reduced',
    'configs/b2inst_blendmask/b2inst-blendmask_design-a_r50_1x_coco.py':
    'reduced',
    'configs/b2inst_blendmask/b2inst-blendmask_design-b_r50_1x_coco.py':
    'reduced',
    'configs/b2inst_blendmask/b2inst-blendmask_design-c_r50_1x_coco.py':
    'reduced',
    'configs/b2inst_blendmask/b2inst-blendmask_design-d_r50_1x_coco.py':
    'reduced',
    'configs/b2inst_blendmask/b2inst-blendmask_box-frame_r50_1x_coco.py':
    'reduced',
    'configs/b2inst_blendmask/b2inst-blendmask_hbb-bs_r50_1x_coco.py':
    'reduced',
    'configs/b2inst_blendmask/b2inst-blendmask_hbb-ms_r50_1x_coco.py':
    'reduced',
    'configs/b2inst_blendmask/b2inst-blendmask_hbb_r50_1x_coco.py': 'reduced',
    'configs/b2inst_blendmask/b2inst-blendmask_paper-scorer_r50_1x_coco.py':
    'reduced',
    'configs/b2inst_blendmask/b2inst-blendmask_r101_1x_coco.py': 'reduced',
    'configs/b2inst_blendmask/b2inst-blendmask_m14_r50_1x_coco.py': 'reduced',
    'configs/b2inst_blendmask/b2inst-blendmask_m14_r101_3x_coco.py': 'reduced',
    'configs/b2inst_yolact/b2inst-yolact_crisp-deng_r50_1xb8-55e_coco.py':
    'reduced',
    'configs/b2inst_yolact/b2inst-yolact_design-a_r50_1xb8-55e_coco.py':
    'reduced',
    'configs/b2inst_yolact/b2inst-yolact_design-b_r50_1xb8-55e_coco.py':
    'reduced',
    'configs/b2inst_yolact/b2inst-yolact_design-c_r50_1xb8-55e_coco.py':
    'reduced',
    'configs/b2inst_yolact/b2inst-yolact_design-d_r50_1xb8-55e_coco.py':
    'reduced',
    'configs/b2inst_yolact/b2inst-yolact_hbb_r50_1xb8-55e_coco.py': 'reduced',
    'configs/blendmask/blendmask_m14_r101_3x_coco.py': 'reduced',
    'configs/blendmask/blendmask_m14_r50_1x_coco.py': 'reduced',
    'configs/blendmask/blendmask_r101_3x_coco.py': 'reduced',
    'configs/blendmask/blendmask_r50_1x_coco.py': 'reduced',
    'configs/blendmask/blendmask_r50-ss_1x_coco.py': 'reduced',
    'configs/yolact/yolact_r50_1xb8-55e_coco.py': 'reduced',
}
# 3x configs that are their 1x twin with a longer schedule: their first
# smoke iterations are the twin's, so the twin's smoke run covers them and
# test_coco_configs checks that they differ in schedule keys only.
SCHEDULE_TWINS = {
    'configs/blendmask/blendmask_r50_3x_coco.py':
    'configs/blendmask/blendmask_r50_1x_coco.py',
    'configs/blendmask/blendmask_m14_r50_3x_coco.py':
    'configs/blendmask/blendmask_m14_r50_1x_coco.py',
    'configs/b2inst_blendmask/b2inst-blendmask_r50_3x_coco.py':
    'configs/b2inst_blendmask/b2inst-blendmask_r50_1x_coco.py',
    'configs/b2inst_blendmask/b2inst-blendmask_r101_3x_coco.py':
    'configs/b2inst_blendmask/b2inst-blendmask_r101_1x_coco.py',
    'configs/b2inst_blendmask/b2inst-blendmask_m14_r50_3x_coco.py':
    'configs/b2inst_blendmask/b2inst-blendmask_m14_r50_1x_coco.py',
}
# What a twin may change: the schedule, and the converted baseline it
# starts from (``load_from``, which a smoke run sets to None).
SCHEDULE_KEYS = ('train_cfg', 'param_scheduler', 'max_iter', 'max_epochs',
                 'load_from')
# The configs that diverged with the earlier boundary loss also run with
# two more seeds, in the `extended` tests (not in CI).
RESEEDED = [
    'configs/b2inst_yolact/b2inst-yolact_hbb_r50_1xb8-55e_coco.py',
    'configs/b2inst_yolact/b2inst-yolact_r50_1xb8-55e_coco.py',
    'configs/b2inst_yolact/b2inst-yolact_design-a_r50_1xb8-55e_coco.py',
]
EXTRA_SEEDS = (1, 2)
# Input scale of the 'reduced' runs: BlendMask's 1333 x 800 becomes
# 533 x 320, YOLACT's 550 x 550 becomes 220 x 220.
REDUCED_SCALE = 0.4
# Relative cost of a run at each scale, to share the runs between the two
# processes.
SMOKE_COST = dict(full=6, reduced=1)
RESIZE_TYPES = ('Resize', 'RandomResize', 'RandomChoiceResize')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
METRICS = ('coco/bbox_mAP', 'coco/segm_mAP', 'boundary/boundary_mAP')
# Result files of the validation (the evaluators' ``outfile_prefix``): the
# detections that each AP was computed over.
RESULT_FILES = dict(
    bbox='coco.bbox.json',
    segm='coco.segm.json',
    boundary='boundary.boundary.json')

# Losses may wobble in 10 iterations of a random-init network, but one that
# grows past this factor of its first logged value is diverging. Losses
# that start below the floor (the scorer's squared errors of scores in
# [0, 1] can start near 0) are compared with the floor.
MAX_GROWTH = 20
GROWTH_FLOOR = 0.05


def run_id(config: str, seed: int) -> str:
    return f'{osp.splitext(osp.basename(config))[0]}-seed{seed}'


def _pipeline_keys(cfg: Config, loader: str):
    """``(dotted key of the pipeline, pipeline)`` of a loader's dataset
    (through wrappers such as RepeatDataset)."""
    key, dataset = f'{loader}.dataset', cfg[loader]['dataset']
    while 'dataset' in dataset:
        key, dataset = key + '.dataset', dataset['dataset']
    return f'{key}.pipeline', dataset['pipeline']


def input_scale_options(cfg: Config, factor: float) -> dict:
    """``--cfg-options`` that multiply every resize scale of the loaders'
    pipelines by ``factor`` (``scale`` and ``scales`` keys only)."""
    opts = {}
    for loader in LOADERS:
        if cfg.get(loader) is None:
            continue
        key, pipeline = _pipeline_keys(cfg, loader)
        for i, step in enumerate(pipeline):
            if step['type'] not in RESIZE_TYPES:
                continue
            for name in ('scale', 'scales'):
                if name not in step:
                    continue
                value = step[name]
                if name == 'scales' or isinstance(value[0], (list, tuple)):
                    value = [_scaled(v, factor) for v in value]
                else:
                    value = _scaled(value, factor)
                opts[f'{key}.{i}.{name}'] = value
    return opts


def _scaled(size, factor: float) -> tuple:
    return tuple(int(round(s * factor)) for s in size)


def smoke_options(config: str,
                  data_root: str,
                  work_dir: str = None,
                  scale: str = 'full',
                  iters: int = 10,
                  seed: int = 0,
                  checkpoints: bool = False,
                  cfg: Config = None) -> dict:
    """``--cfg-options`` of a smoke run of ``config``: at least ``iters``
    training iterations on the synthetic set at ``data_root`` with the
    config's own model, optimizer, schedule and pipelines (see
    ``short_run_options``), then one validation that scores every
    detection (score threshold 0) and writes the evaluated detections to
    ``work_dir``; resize scales multiplied by ``REDUCED_SCALE`` when
    ``scale == 'reduced'``; no checkpoints (an R-50 one is ~300 MB) unless
    ``checkpoints``. ``cfg``: ``config`` already loaded."""
    if cfg is None:
        cfg = Config.fromfile(osp.join(ROOT, config))
    opts = short_run_options(cfg, data_root, iters, seed)
    if scale == 'reduced':
        opts.update(input_scale_options(cfg, REDUCED_SCALE))
    elif scale != 'full':
        raise ValueError(f"scale must be 'full' or 'reduced', got {scale!r}")
    opts['model.test_cfg.score_thr'] = 0.
    if cfg.get('load_from'):  # a converted baseline: not on this machine
        opts['load_from'] = None
    if not checkpoints:
        opts['default_hooks.checkpoint.interval'] = 10**6
        opts['default_hooks.checkpoint.save_last'] = False
    if work_dir is not None:
        prefixes = dict(SafeCocoMetric='coco', BoundaryAPMetric='boundary')
        for i, metric in enumerate(cfg.val_evaluator):
            opts[f'val_evaluator.{i}.outfile_prefix'] = osp.join(
                work_dir, prefixes[metric['type']])
    return opts


def smoke_run(config: str,
              data_root: str,
              work_dir: str,
              scale: str = 'full',
              seed: int = 0) -> dict:
    """Train and validate ``config`` in this process as ``tools/train.py``
    would (``build_runner``), with :func:`smoke_options`.

    Returns:
        dict: ``error`` (the traceback, or None), ``seconds``, ``records``
        (logged training losses), ``metrics`` (validation) and
        ``detections``: per result file kind (``bbox``, ``segm``,
        ``boundary``), the number of detections per image id.
    """
    import torch

    from mmb2inst.utils.run_checks import build_runner
    start, error = time.time(), None
    try:
        cfg = Config.fromfile(osp.join(ROOT, config))
        cfg.merge_from_dict(
            smoke_options(
                config, data_root, work_dir, scale, seed=seed, cfg=cfg))
        cfg.work_dir = work_dir
        # Runs share this process: one logger and visualizer each (mmdet's
        # configs name theirs 'visualizer', which would be reused).
        cfg.experiment_name = run_id(config, seed)
        cfg.visualizer.name = cfg.experiment_name
        runner = build_runner(cfg)
        runner.train()
        del runner
    except Exception:  # reported by the test, with the run's name
        error = traceback.format_exc()
    records, metrics = read_scalars(work_dir) if not error else ([], {})
    out = dict(
        config=config,
        seed=seed,
        scale=scale,
        error=error,
        seconds=time.time() - start,
        threads=torch.get_num_threads(),
        records=records,
        metrics=metrics,
        detections=detections_per_image(work_dir),
        val_images=val_image_ids(data_root))
    for path in glob.glob(osp.join(work_dir, '**', '*.pth'), recursive=True):
        os.remove(path)
    return out


def val_image_ids(data_root: str) -> list:
    """Image ids of the validation split, in the file's order."""
    with open(f'{data_root}/annotations/instances_val2017.json') as f:
        return [img['id'] for img in json.load(f)['images']]


def detections_per_image(work_dir: str) -> dict:
    """``{kind: {image id: number of detections}}`` of the result files
    the validation wrote (``RESULT_FILES``); kinds without a file are
    left out."""
    out = {}
    for kind, name in RESULT_FILES.items():
        path = osp.join(work_dir, name)
        if osp.isfile(path):
            with open(path) as f:
                counts = Counter(det['image_id'] for det in json.load(f))
            out[kind] = {str(k): v for k, v in sorted(counts.items())}
    return out


def read_scalars(work_dir: str):
    """``(train records, val metrics)`` of the run in ``work_dir``, from
    MMEngine's ``vis_data/scalars.json``."""
    paths = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not paths:
        return [], {}
    train_records, metrics = [], {}
    with open(paths[-1]) as f:
        for line in f:
            record = json.loads(line)
            if any(k.startswith('loss') for k in record):
                train_records.append(record)
            else:
                metrics.update(record)
    return train_records, metrics


def loss_problems(records) -> list:
    """Non-finite losses and losses grown past ``MAX_GROWTH`` times their
    first logged value."""
    problems = []
    keys = sorted({k for r in records for k in r if k.startswith('loss')})
    for key in keys:
        values = [r[key] for r in records if key in r]
        bad = [v for v in values if not math.isfinite(v)]
        if bad:
            problems.append(f'{key} not finite: {values}')
            continue
        if loss_growth(values) > MAX_GROWTH:
            problems.append(f'{key} grew past {MAX_GROWTH}x its first value:'
                            f' {values}')
    return problems


def loss_growth(values) -> float:
    """The largest logged value of a loss over its first one (or over
    ``GROWTH_FLOOR`` when it starts below it)."""
    return max(values) / max(abs(values[0]), GROWTH_FLOOR)


def train(config: str,
          data_root: str,
          work_dir: str,
          scale: str = 'full',
          iters: int = 10,
          seed: int = 0,
          threads: int = 2,
          checkpoints: bool = False,
          timeout: int = 1800):
    """``python tools/train.py config`` with the smoke options, in a
    subprocess (what a user runs, error messages included)."""
    from toy_runs import run
    opts = smoke_options(config, data_root, None, scale, iters, seed,
                         checkpoints)
    args = [sys.executable, 'tools/train.py', config, '--work-dir', work_dir]
    args += ['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()]
    return run(
        args,
        timeout=timeout,
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads))


def smoke_report(results: dict) -> list:
    """The lines of a markdown table of the smoke runs (printed at the end
    of the session; ``MMB2INST_SMOKE_REPORT=path`` also writes it):
    input scale, seconds, first and last total loss, the largest growth of
    any loss over its first value (``loss_growth``, what the test checks),
    the validation APs and the detections they were computed over on each
    validation image."""
    lines = [
        '| run | scale | s | loss first -> last | max growth | bbox / segm '
        '/ boundary mAP | detections on each val image |',
        '| --- | --- | --- | --- | --- | --- | --- |'
    ]
    for run, result in sorted(results.items()):
        if result is None or result['error']:
            lines.append(f'| {run_id(*run)} | failed |  |  |  |  |  |')
            continue
        records, metrics = result['records'], result['metrics']
        losses = [r['loss'] for r in records if 'loss' in r]
        keys = sorted({k for r in records for k in r if k.startswith('loss')})
        growth = max(
            (loss_growth([r[k] for r in records if k in r]) for k in keys),
            default=float('nan'))
        loss = f'{losses[0]:.4g} -> {losses[-1]:.4g}' if losses else '-'
        maps = ' / '.join(f'{metrics[k]:.3f}' if k in metrics else '-'
                          for k in METRICS)
        counts = result['detections'].get('bbox', {})
        per_image = [counts.get(str(i), 0) for i in result['val_images']]
        lines.append(f"| {run_id(*run)} | {result['scale']} | "
                     f"{result['seconds']:.0f} | {loss} | {growth:.2f} | "
                     f"{maps} | {' '.join(map(str, per_image))} |")
    return lines


class SmokeProcesses:
    """The smoke runs of a test session, in two background processes
    (``tests/coco_smoke.py``, one thread each) started as soon as the
    session knows which runs it selected, so that they train while the
    rest of the suite runs; the smoke tests (which the session runs last)
    wait for them with :meth:`results`."""

    def __init__(self, runs: list):
        self.base = tempfile.mkdtemp(prefix='mmb2inst-coco-smoke-')
        self.data_root = osp.join(self.base, 'coco')
        load_tool('dataset_converters/make_synthetic_coco'
                  ).generate_synthetic_coco(self.data_root)
        self.runs, self.procs, self.done = runs, [], None
        for i, share in enumerate(_shares(runs)):
            spec = osp.join(self.base, f'spec{i}.json')
            with open(spec, 'w') as f:
                json.dump(
                    dict(
                        data_root=self.data_root,
                        out=self.base,
                        threads=1,
                        runs=[
                            dict(config=c, seed=s, scale=SMOKE_RUNS[c])
                            for c, s in share
                        ]), f)
            log = open(osp.join(self.base, f'worker{i}.log'), 'w')
            self.procs.append((subprocess.Popen(
                [sys.executable, 'tests/coco_smoke.py', spec],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT), log))

    def results(self, timeout: float = 3600) -> dict:
        """``{(config, seed): smoke_run's result, or None if its process
        died before it}``, once both processes have finished."""
        deadline = time.time() + timeout
        for proc, log in self.procs:
            try:
                proc.wait(max(1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
        if self.done is not None:
            return self.done
        out = {}
        for config, seed in self.runs:
            path = osp.join(self.base, run_id(config, seed), 'result.json')
            out[(config, seed)] = None
            if osp.isfile(path):
                with open(path) as f:
                    out[(config, seed)] = json.load(f)
        self.done = out
        return out

    def log_tail(self, chars: int = 3000) -> str:
        """The end of each process's output (for a run that has no
        result)."""
        tails = []
        for i in range(len(self.procs)):
            with open(osp.join(self.base, f'worker{i}.log')) as f:
                tails.append(f.read()[-chars:])
        return '\n'.join(tails)

    def close(self) -> None:
        for proc, log in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
        shutil.rmtree(self.base, ignore_errors=True)


# Where the session keeps its SmokeProcesses (``config.stash``).
SMOKE_PROCESSES = pytest.StashKey()


def _shares(runs: list) -> list:
    """``runs`` in two lists of about equal cost, dearest first."""
    shares, total = ([], []), [0, 0]
    cost = {run: SMOKE_COST[SMOKE_RUNS[run[0]]] for run in runs}
    for run in sorted(runs, key=lambda r: -cost[r]):
        i = total.index(min(total))
        shares[i].append(run)
        total[i] += cost[run]
    return [s for s in shares if s]
