"""A training step of every model on polygon masks (``PolygonMasks``, what
the COCO pipelines load with ``poly2mask=False``), next to the same step on
bitmaps (``BitmapMasks``, the toy pipelines'): both run, give finite losses
and gradients, and nearly the same values.

Data: two images of the synthetic COCO-format set through a 128x128 toy
pipeline; models: the toy configs with COCO's 80 classes.
"""
import os.path as osp

import pytest
import torch
from mmdet.registry import DATASETS, MODELS
from mmdet.structures.mask import BitmapMasks, PolygonMasks
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import set_random_seed
from toy_runs import ROOT

# Every test here trains a model.
pytestmark = pytest.mark.slow

MODEL_CONFIGS = [
    'configs/yolact/yolact_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_hbb_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_design-a_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_design-b_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py',
    'configs/blendmask/blendmask_r18_1xb8-12e_toy.py',
    'configs/b2inst_blendmask/b2inst-blendmask_design-a_r18_1xb8-12e_toy.py',
    'configs/b2inst_blendmask/b2inst-blendmask_design-b_r18_1xb8-12e_toy.py',
    'configs/b2inst_blendmask/b2inst-blendmask_hbb_r18_1xb8-12e_toy.py',
    'configs/b2inst_blendmask/b2inst-blendmask_r18_1xb8-12e_toy.py',
]


def coco_batch(coco_root: str, poly2mask: bool) -> dict:
    dataset = DATASETS.build(
        dict(
            type='CheckedCocoDataset',
            data_root=coco_root + '/',
            ann_file='annotations/instances_train2017.json',
            data_prefix=dict(img='train2017/'),
            filter_cfg=dict(filter_empty_gt=True),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(
                    type='LoadAnnotations',
                    with_bbox=True,
                    with_mask=True,
                    poly2mask=poly2mask),
                dict(type='Resize', scale=(128, 128), keep_ratio=False),
                dict(type='PackDetInputs')
            ]))
    return pseudo_collate([dataset[0], dataset[2]])


def build_model(config: str):
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.model.bbox_head.num_classes = 80
    cfg.model.mask_head.num_classes = 80
    set_random_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def losses_of(model, batch) -> dict:
    model.train()
    set_random_seed(0)  # the scorer samples instances
    data = model.data_preprocessor(batch, True)
    return model.loss(data['inputs'], data['data_samples'])


@pytest.mark.parametrize('config', MODEL_CONFIGS, ids=osp.basename)
def test_training_step_on_polygon_masks(config, coco_root):
    polygons = coco_batch(coco_root, poly2mask=False)
    bitmaps = coco_batch(coco_root, poly2mask=True)
    assert isinstance(polygons['data_samples'][0].gt_instances.masks,
                      PolygonMasks)
    assert isinstance(bitmaps['data_samples'][0].gt_instances.masks,
                      BitmapMasks)
    model = build_model(config)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    on_polygons = losses_of(model, polygons)
    total = sum(
        sum(v) if isinstance(v, (list, tuple)) else v
        for k, v in on_polygons.items() if 'loss' in k)
    total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    model.zero_grad()
    model.load_state_dict(state)
    on_bitmaps = losses_of(model, bitmaps)
    assert on_polygons.keys() == on_bitmaps.keys()
    for key, value in on_polygons.items():
        if 'loss' not in key:
            continue
        if isinstance(value, (list, tuple)):
            value, other = sum(value), sum(on_bitmaps[key])
        else:
            other = on_bitmaps[key]
        assert torch.isfinite(value), key
        # Polygons are rasterised in the target's own frame, bitmaps are
        # cropped and resampled: the targets differ on edge pixels only,
        # which moves the boundary-Dice targets of the scorer most.
        tol = 0.01 if key.startswith('loss_score') else 1e-3
        assert float(value) == pytest.approx(
            float(other), rel=0.05, abs=tol), key
