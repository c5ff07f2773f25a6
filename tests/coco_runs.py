"""Helpers of the tests that run the shipped COCO configs on the synthetic
COCO-format set (:mod:`mmb2inst.datasets.synthetic_coco`): the overrides a
smoke run may make (data root, backbone init, batch size, iterations,
workers, seed, logging), the run itself, and its log."""
import glob
import json
import math
import os.path as osp
import sys
import threading

from mmengine.config import Config
from toy_runs import ROOT, run

from mmb2inst.utils.short_runs import short_run_options

COCO_CONFIGS = sorted(
    osp.relpath(p, ROOT) for p in glob.glob(
        osp.join(ROOT, 'configs', '**', '*_coco.py'), recursive=True))

# Losses may wobble in 10 iterations of a random-init network, but one that
# grows past this factor of its first logged value is diverging. Losses
# that start below the floor (the scorer's squared errors of scores in
# [0, 1] can start near 0) are compared with the floor.
MAX_GROWTH = 20
GROWTH_FLOOR = 0.05
# Config.fromfile is not thread-safe (mmengine resolves the `mmdet::`
# package through pkg_resources, which fails now and then when two threads
# do it at once: "TypeError: Expected str, Requirement, or Distribution"),
# and the smoke runs are started from two threads.
_CONFIG_LOCK = threading.Lock()


def smoke_options(config: str,
                  data_root: str,
                  iters: int = 10,
                  seed: int = 0,
                  batch_size: int = None) -> dict:
    """``--cfg-options`` that run ``config`` for at least ``iters``
    training iterations on the synthetic set at ``data_root`` and then
    validate, changing nothing else of the config (model, pipelines,
    optimizer, schedule start); see ``short_run_options``."""
    with _CONFIG_LOCK:
        cfg = Config.fromfile(osp.join(ROOT, config))
        return short_run_options(cfg, data_root, iters, seed, batch_size)


def train(config: str,
          data_root: str,
          work_dir: str,
          iters: int = 10,
          seed: int = 0,
          threads: int = 2,
          extra: dict = None,
          timeout: int = 1800):
    """``python tools/train.py config`` with the smoke options."""
    opts = smoke_options(config, data_root, iters, seed)
    opts.update(extra or {})
    args = [sys.executable, 'tools/train.py', config, '--work-dir', work_dir]
    args += ['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()]
    return run(
        args,
        timeout=timeout,
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads))


def read_scalars(work_dir: str):
    """``(train records, val metrics)`` of the run in ``work_dir``, from
    MMEngine's ``vis_data/scalars.json``."""
    paths = sorted(
        glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    assert paths, f'no scalars.json under {work_dir}'
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
