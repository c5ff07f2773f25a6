"""Every config loads; modules register into MMDetection's registries; every
toy config builds its model."""
import glob
import os.path as osp

import pytest
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from toy_runs import ROOT

import mmb2inst  # noqa: F401

CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)
TOY = [p for p in CONFIGS if p.endswith('_toy.py')]


@pytest.mark.parametrize('registry,name', [(MODELS, 'BoundaryLoss'),
                                           (MODELS, 'BoundaryBasis'),
                                           (MODELS, 'B2InstYOLACTProtonet'),
                                           (MODELS, 'B2InstYOLACT'),
                                           (DATASETS, 'ToyShapesDataset')])
def test_registered_in_mmdet(registry, name):
    assert registry.get(name) is not None
    assert registry.scope == 'mmdet'


def test_config_basenames_are_unique():
    # `mim train mmb2inst NAME.py` finds a config by its file name.
    names = [osp.basename(p) for p in CONFIGS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_loads(path):
    cfg = Config.fromfile(path)
    assert 'mmb2inst' in cfg.custom_imports['imports']
    assert cfg.model.type


@pytest.mark.parametrize('path', TOY, ids=osp.basename)
def test_toy_config_builds_without_pretrained_weights(path):
    cfg = Config.fromfile(path)
    assert cfg.model.backbone.init_cfg is None
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize('options,check', [
    ({
        'model.mask_head.boundary.loss_boundary.crisp_beta': 0.
    }, lambda m: m.mask_head.boundary.loss_boundary.crisp_beta == 0.),
    ({
        'model.mask_head.scorer.loss_iou.loss_weight': 2.
    }, lambda m: m.mask_head.scorer.loss_iou.loss_weight == 2.),
    ({
        'model.mask_head.scorer.roi_extractor.featmap_strides': [8, 16]
    }, lambda m: m.mask_head.scorer.roi_extractor.num_inputs == 2),
])
def test_overrides_of_defaulted_sub_configs(options, check):
    # The B2Inst configs rely on the defaults of the boundary loss and the
    # scorer's parts; overriding one key of them must not need the rest.
    cfg = Config.fromfile(
        osp.join(ROOT,
                 'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py'))
    cfg.merge_from_dict(options)
    assert check(MODELS.build(cfg.model))
