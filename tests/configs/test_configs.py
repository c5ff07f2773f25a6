"""Every config loads; modules register into MMDetection's registries; every
toy config builds its model."""
import glob
import os.path as osp

import pytest
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config

import mmb2inst  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
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
