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
import os
import os.path as osp
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from coco_runs import (COCO_CONFIGS, loss_problems, read_scalars,
                       smoke_options, train)
from toy_runs import load_state

# The configs that diverged with the earlier boundary loss (review of
# 98b5ac3) also run with two more seeds.
RESEEDED = [
    'configs/b2inst_yolact/b2inst-yolact_r50_1xb8-55e_coco.py',
    'configs/b2inst_yolact/b2inst-yolact_hbb-bs-ms_r50_1xb8-55e_coco.py',
    'configs/b2inst_yolact/b2inst-yolact_design-a_r50_1xb8-55e_coco.py',
]
RUNS = [(c, 0) for c in COCO_CONFIGS] + [(c, s) for c in RESEEDED
                                         for s in (1, 2)]
METRICS = ('coco/bbox_mAP', 'coco/segm_mAP', 'boundary/boundary_mAP')
# The boundary loss and predictor initialisation used before the COCO path
# was exercised (BoundaryLoss docstring).
LEGACY_BOUNDARY = {
    'model.mask_head.boundary.loss_boundary.crisp_distance': 'ratio',
    'model.mask_head.boundary.loss_boundary.crisp_wce_reduction': 'sum',
    'model.mask_head.boundary.loss_boundary.crisp_alpha': 1e-3,
    'model.mask_head.boundary.init_cfg.type': 'Kaiming',
    'model.mask_head.boundary.init_cfg.layer': 'Conv2d',
}
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
        for path in os.listdir(work_dir):  # drop anything but the logs
            if path.endswith('.pth'):
                os.remove(osp.join(work_dir, path))
        return run, (result.returncode, result.stderr, work_dir,
                     time.time() - start)

    with ThreadPoolExecutor(2) as pool:
        results = dict(pool.map(go, selected))
    yield results
    shutil.rmtree(base, ignore_errors=True)


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
    result = train(
        'configs/b2inst_yolact/b2inst-yolact_r50_1xb8-55e_coco.py',
        coco_root,
        work_dir,
        iters=40,
        threads=1,
        extra=LEGACY_BOUNDARY)
    assert result.returncode == 1, result.stderr[-3000:]
    message = result.stderr[result.stderr.index('mmb2inst: '):]
    assert 'training diverged at iteration' in message
    assert 'loss' in message
    # Batches of 2 of 8 images: epoch 1 (4 iterations) was saved before the
    # divergence at seed 0, and holds finite weights.
    failed_at = int(message.split('at iteration ')[1].split()[0])
    assert failed_at > 4
    assert 'epoch_1.pth' in message
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('epoch_1.pth')
    state = load_state(osp.join(work_dir, 'epoch_1.pth'))['state_dict']
    assert all(
        torch.isfinite(v).all() for v in state.values()
        if v.is_floating_point())
    saved = sorted(p for p in os.listdir(work_dir) if p.endswith('.pth'))
    assert saved == ['epoch_1.pth']


def test_synthetic_coco_has_cocos_quirks(coco_root):
    import json

    import cv2

    from mmb2inst.datasets.synthetic_coco import (COCO_CATEGORIES,
                                                  UNKNOWN_CATEGORY_ID)
    for split in ('train', 'val'):
        with open(f'{coco_root}/annotations/instances_{split}2017.json') as f:
            coco = json.load(f)
        assert [(c['id'], c['name'])
                for c in coco['categories']] == list(COCO_CATEGORIES)
        shapes = set()
        gray = 0
        for img in coco['images']:
            pixels = cv2.imread(f"{coco_root}/{split}2017/{img['file_name']}",
                                cv2.IMREAD_UNCHANGED)
            assert pixels.shape[:2] == (img['height'], img['width'])
            gray += pixels.ndim == 2
            shapes.add(round(img['width'] / img['height'], 2))
        assert gray == 1
        assert len(shapes) >= 3  # landscape, portrait, square, ...
        with_anns = {a['image_id'] for a in coco['annotations']}
        assert any(img['id'] not in with_anns for img in coco['images'])
        anns = coco['annotations']
        crowds = [a for a in anns if a['iscrowd']]
        assert crowds and all(
            isinstance(a['segmentation']['counts'], list) for a in crowds)
        polys = [a['segmentation'] for a in anns if not a['iscrowd']]
        assert any(len(p) > 1 for p in polys)  # several parts
        assert len({a['id'] for a in anns}) == len(anns)
    ids = {c for c, _ in COCO_CATEGORIES}
    assert len(ids) == 80 and max(ids) == 90
    assert UNKNOWN_CATEGORY_ID not in ids


def test_checked_dataset_names_the_unusable_annotations(coco_set):
    import logging

    from mmdet.registry import DATASETS
    from mmengine.logging import MMLogger

    coco_root, summary = coco_set
    # A new MMLogger is the current one, which the dataset logs to.
    logger = MMLogger.get_instance(f'checked-coco-{time.time()}')
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    dataset = DATASETS.build(
        dict(
            type='CheckedCocoDataset',
            data_root=coco_root + '/',
            ann_file='annotations/instances_train2017.json',
            data_prefix=dict(img='train2017/'),
            pipeline=[]))
    planted = summary['bad_annotation_ids']
    assert dataset.unusable_annotations == {
        'polygon': [planted['degenerate_polygon']],
        'box': [planted['zero_area_box']],
        'category': [planted['unknown_category']],
    }
    warnings = [r.getMessage() for r in records if r.levelno == 30]
    assert len(warnings) == 3
    for ann_id in planted.values():
        assert any(f'id {ann_id}.' in w for w in warnings)
    kept = {
        inst['bbox_label']
        for info in dataset.load_data_list()
        for inst in info['instances']
    }
    assert kept and max(kept) < 80
    # Everything else is mmdet's CocoDataset: same images, same instances
    # as mmdet's own parsing minus the unusable annotations.
    from mmdet.datasets import CocoDataset
    plain = CocoDataset(
        data_root=coco_root + '/',
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=[])
    assert len(plain) == len(dataset)
    counts = [len(d['instances']) for d in plain.load_data_list()]
    checked = [len(d['instances']) for d in dataset.load_data_list()]
    # mmdet keeps the two-point polygon (as an ignored instance) and drops
    # the other two silently.
    assert np.sum(counts) == np.sum(checked) + 1
