"""Every shipped COCO config trains and evaluates on COCO-format data.

The data is the synthetic COCO-format set (COCO's layout, category ids,
polygons of several parts, crowd RLEs, several image sizes, a grayscale
image, empty images, unusable annotations). Each config runs unchanged but
for the data root, a random-init backbone (no weights can be downloaded
here), batch size, iteration count, workers, seed and logging
(``coco_runs.smoke_options``): at least 10 iterations with its own optimizer
and schedule, then a validation pass. The runs go two at a time, one thread
each.
"""
import glob
import os
import os.path as osp
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from coco_runs import (COCO_CONFIGS, loss_growth, loss_problems, read_scalars,
                       smoke_options, train)
from mmengine.config import Config
from toy_runs import ROOT, load_state

# The configs that diverged with the earlier boundary loss (review of
# 98b5ac3) also run with two more seeds.
RESEEDED = [
    'configs/b2inst_yolact/b2inst-yolact_hbb_r50_1xb8-55e_coco.py',
    'configs/b2inst_yolact/b2inst-yolact_r50_1xb8-55e_coco.py',
    'configs/b2inst_yolact/b2inst-yolact_design-a_r50_1xb8-55e_coco.py',
]
RUNS = [(c, 0) for c in COCO_CONFIGS] + [(c, s) for c in RESEEDED
                                         for s in (1, 2)]
METRICS = ('coco/bbox_mAP', 'coco/segm_mAP', 'boundary/boundary_mAP')
# The boundary loss and predictor initialisation used before the COCO path
# was exercised (BoundaryLoss docstring), restored as a user would: a config
# on top of the shipped one (init_cfg replaced as a whole).
LEGACY_CONFIG = """_base_ = {base!r}
model = dict(
    mask_head=dict(
        boundary=dict(
            init_cfg=[dict(type='Kaiming', layer='Conv2d')],
            loss_boundary=dict(
                crisp_distance='ratio',
                crisp_wce_reduction='sum',
                crisp_alpha=1e-3,
                loss_weight=1.0))))
"""
# Smoke runs keep no checkpoints (an R-50 checkpoint is ~300 MB).
NO_CHECKPOINTS = {
    'default_hooks.checkpoint.interval': 100000,
    'default_hooks.checkpoint.save_last': False,
}


def run_id(run) -> str:
    config, seed = run
    return f'{osp.splitext(osp.basename(config))[0]}-seed{seed}'


@pytest.fixture(scope='session')
def smoke_results(request, coco_root, tmp_path_factory):
    """Run the selected smoke runs, two at a time; ``{run: (returncode,
    stderr, scalars work_dir, seconds)}``."""
    selected = [
        item.callspec.params['run'] for item in request.session.items
        if getattr(item, 'originalname', '') == 'test_coco_config_smoke'
    ]
    base = tmp_path_factory.mktemp('coco_smoke')

    def go(run):
        config, seed = run
        work_dir = str(base / run_id(run))
        start = time.time()
        result = train(
            config,
            coco_root,
            work_dir,
            seed=seed,
            threads=1,
            extra=NO_CHECKPOINTS)
        for path in glob.glob(osp.join(work_dir, '*.pth')):
            os.remove(path)  # keep the logs only
        return run, (result.returncode, result.stderr, work_dir,
                     time.time() - start)

    with ThreadPoolExecutor(2) as pool:
        results = dict(pool.map(go, selected))
    if os.environ.get('MMB2INST_SMOKE_REPORT'):
        write_report(os.environ['MMB2INST_SMOKE_REPORT'], results)
    yield results
    shutil.rmtree(base, ignore_errors=True)


def write_report(path: str, results: dict) -> None:
    """A markdown table of the smoke runs (``MMB2INST_SMOKE_REPORT=path``):
    exit code, seconds, first and last total loss, the largest growth of
    any loss over its first value (``loss_growth``, what the test checks)
    and the validation metrics."""
    lines = [
        '| run | exit | s | loss first -> last | max growth | bbox / segm '
        '/ boundary mAP |', '| --- | --- | --- | --- | --- | --- |'
    ]
    for run, (code, _, work_dir, seconds) in sorted(results.items()):
        try:
            records, metrics = read_scalars(work_dir)
        except AssertionError:
            records, metrics = [], {}
        losses = [r['loss'] for r in records if 'loss' in r]
        keys = sorted({k for r in records for k in r if k.startswith('loss')})
        growth = max(
            (loss_growth([r[k] for r in records if k in r]) for k in keys),
            default=float('nan'))
        loss = (f'{losses[0]:.4g} -> {losses[-1]:.4g}' if losses else '-')
        maps = ' / '.join(f'{metrics[k]:.3f}' if k in metrics else '-'
                          for k in METRICS)
        lines.append(f'| {run_id(run)} | {code} | {seconds:.0f} | {loss} | '
                     f'{growth:.2f} | {maps} |')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def test_every_coco_config_has_a_smoke_run():
    assert {c for c, _ in RUNS} == set(COCO_CONFIGS)
    assert len(COCO_CONFIGS) >= 20


LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


@pytest.mark.parametrize('config', COCO_CONFIGS)
def test_smoke_options_change_only_what_they_may(config, coco_root):
    allowed = ('model.backbone.init_cfg', 'randomness.seed',
               'train_dataloader.', 'val_dataloader.', 'test_dataloader.',
               'val_evaluator.', 'test_evaluator.', 'train_cfg.max_',
               'train_cfg.val_interval', 'default_hooks.logger.interval',
               'log_processor.window_size')
    for key in smoke_options(config, coco_root):
        assert key.startswith(allowed), key
        if key.startswith(LOADERS):
            assert key.rsplit('.', 1)[-1] in ('batch_size', 'num_workers',
                                              'persistent_workers',
                                              'data_root'), key


@pytest.mark.slow
@pytest.mark.parametrize('run', RUNS, ids=run_id)
def test_coco_config_smoke(run, smoke_results):
    returncode, stderr, work_dir, _ = smoke_results[run]
    assert returncode == 0, stderr[-3000:]
    records, metrics = read_scalars(work_dir)
    assert len(records) >= 10
    assert not loss_problems(records)
    for key in METRICS:
        assert key in metrics, sorted(metrics)
        assert 0 <= metrics[key] <= 1


@pytest.mark.slow
def test_legacy_boundary_loss_diverges_and_the_guard_keeps_the_checkpoint(
        coco_root, tmp_path):
    # The negative control of the smoke runs: with the earlier boundary
    # loss B2Inst-YOLACT diverges under its own SGD, and the LossGuardHook
    # stops the run before it saves, naming the loss and the iteration.
    work_dir = str(tmp_path / 'legacy')
    config = tmp_path / 'b2inst-yolact_legacy-boundary_coco.py'
    config.write_text(
        LEGACY_CONFIG.format(
            base=osp.join(
                ROOT,
                'configs/b2inst_yolact/b2inst-yolact_hbb_r50_1xb8-55e_coco.py')
        ))
    legacy = Config.fromfile(str(config)).model.mask_head.boundary
    assert legacy.init_cfg == [dict(type='Kaiming', layer='Conv2d')]
    assert legacy.loss_boundary.crisp_distance == 'ratio'
    result = train(str(config), coco_root, work_dir, iters=40, threads=1)
    assert result.returncode == 1, result.stderr[-3000:]
    message = result.stderr[result.stderr.index('mmb2inst: '):]
    assert 'training diverged at iteration' in message
    assert 'loss' in message
    # Batches of 4 of 8 images, a checkpoint every epoch (2 iterations):
    # the last one written before the diverged iteration stays the last
    # one, and holds finite weights.
    failed_at = int(message.split('at iteration ')[1].split()[0])
    last_epoch = (failed_at - 1) // 2
    assert last_epoch >= 1, message
    last = f'epoch_{last_epoch}.pth'
    assert last in message
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith(last)
    state = load_state(osp.join(work_dir, last))['state_dict']
    assert all(
        torch.isfinite(v).all() for v in state.values()
        if v.is_floating_point())
    saved = sorted(p for p in os.listdir(work_dir) if p.endswith('.pth'))
    assert saved == [f'epoch_{e}.pth' for e in range(1, last_epoch + 1)]
