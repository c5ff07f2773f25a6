"""mmdet's YOLACT checkpoints load into B2Inst-YOLACT with ``load_from``.

The state dict comes from mmdet's own YOLACT R-50 built from mmdet's config
(``yolact/yolact_r50_1xb8-55e_coco.py``, seeded random weights), in two key
layouts: mmdet 3.x's, and that of the published checkpoints
(``yolact_r50_1x8_coco_20200908-f38d58df.pth``, R-101
``...-4cbe9101.pth``), written by mmdet 2.x, whose YOLACT held the
semantic-segmentation conv as ``segm_head.segm_conv`` (3.x:
``mask_head.segm_branch.segm_conv``; every other key is the same).
"""
import copy
import os.path as osp

import mmdet
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from toy_runs import ROOT

import mmb2inst  # noqa: F401
from mmb2inst.utils.checkpoint import check_checkpoint_matches

MMDET_YOLACT = osp.join(
    osp.dirname(mmdet.__file__), '.mim', 'configs', 'yolact',
    'yolact_r50_1xb8-55e_coco.py')
B2INST = osp.join(ROOT, 'configs', 'b2inst_yolact',
                  'b2inst-yolact_r50_1xb8-55e_coco.py')
SEGM_3X, SEGM_2X = 'mask_head.segm_branch.segm_conv.', 'segm_head.segm_conv.'

# three R-50 YOLACTs built and run on two small images
pytestmark = pytest.mark.slow


def build(cfg):
    cfg = copy.deepcopy(cfg)
    cfg.backbone.init_cfg = None
    torch.manual_seed(1)
    return MODELS.build(cfg).eval()


@pytest.fixture(scope='module')
def boundary_off():
    cfg = Config.fromfile(MMDET_YOLACT).model
    cfg.type = 'B2InstYOLACT'
    cfg.mask_head.type = 'B2InstYOLACTProtonet'
    return build(cfg)


@pytest.fixture(scope='module')
def b2inst():
    return build(Config.fromfile(B2INST).model)


@pytest.fixture(scope='module')
def mmdet_yolact():
    """mmdet's YOLACT with weights that detect: every parameter random,
    the classifier's background logit low."""
    model = build(Config.fromfile(MMDET_YOLACT).model)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * 0.05)
        bias = model.bbox_head.conv_cls.bias.view(-1, 81)
        bias.copy_(torch.randn(bias.shape, generator=gen) * 2)
        bias[:, -1] = -4.  # background (mmdet: the last class)
    return model


def published_layout(state):
    return {k.replace(SEGM_3X, SEGM_2X): v for k, v in state.items()}


def inputs(model):
    from mmdet.testing import demo_mm_inputs
    packed = demo_mm_inputs(
        2, [[3, 96, 128], [3, 90, 100]], num_items=[2, 1], with_mask=True)
    return model.data_preprocessor(packed, False)


@pytest.mark.parametrize('layout', ['mmdet3', 'published'])
def test_boundary_off_is_mmdet_yolact(tmp_path, mmdet_yolact, boundary_off,
                                      layout):
    state = mmdet_yolact.state_dict()
    if layout == 'published':
        state = published_layout(state)
        assert any(k.startswith(SEGM_2X) for k in state)
    path = tmp_path / 'yolact.pth'
    torch.save(dict(state_dict=state, meta=dict()), path)
    ours = boundary_off
    check_checkpoint_matches(ours, str(path))  # what `mim test` checks
    load_checkpoint(ours, str(path), strict=True)
    for key, value in mmdet_yolact.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    data = inputs(ours)
    with torch.no_grad():
        theirs = mmdet_yolact.predict(data['inputs'], data['data_samples'])
        mine = ours.predict(data['inputs'], data['data_samples'])
    for a, b in zip(theirs, mine):
        a, b = a.pred_instances, b.pred_instances
        assert len(a) > 0
        for key in ('bboxes', 'scores', 'labels', 'masks'):
            assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize('layout', ['mmdet3', 'published'])
def test_b2inst_misses_only_its_additions(tmp_path, mmdet_yolact, b2inst,
                                          layout):
    state = mmdet_yolact.state_dict()
    if layout == 'published':
        state = published_layout(state)
    model = b2inst
    init = model.bbox_head.conv_coeff.weight.detach().clone()
    result = model.load_state_dict(copy.copy(state), strict=False)
    assert not result.unexpected_keys
    additions = {
        k
        for k in model.state_dict()
        if k.startswith(('mask_head.boundary.', 'mask_head.scorer.'))
    }
    assert additions and set(result.missing_keys) == additions
    # 3 anchors x (32 prototypes + the boundary basis) coefficients
    weight = model.bbox_head.conv_coeff.weight.view(3, 33, 256, 3, 3)
    given = mmdet_yolact.bbox_head.conv_coeff.weight.view(3, 32, 256, 3, 3)
    assert torch.equal(weight[:, :32], given)
    assert torch.equal(weight[:, 32], init.view(3, 33, 256, 3, 3)[:, 32])
    bias = model.bbox_head.conv_coeff.bias.view(3, 33)
    assert torch.equal(bias[:, :32],
                       mmdet_yolact.bbox_head.conv_coeff.bias.view(3, 32))
    assert torch.equal(model.mask_head.segm_branch.segm_conv.weight,
                       mmdet_yolact.mask_head.segm_branch.segm_conv.weight)
    # the load_from path (mmengine's load_checkpoint, strict=False) as well
    loaded = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for param in model.parameters():
            param.zero_()
    path = tmp_path / 'yolact.pth'
    torch.save(dict(state_dict=state, meta=dict()), path)
    check_checkpoint_matches(model, str(path), allow_missing=True)
    load_checkpoint(model, str(path), strict=False)
    for key, value in model.state_dict().items():
        if key not in additions and 'conv_coeff' not in key:
            assert torch.equal(loaded[key], value), key
    weight = model.bbox_head.conv_coeff.weight.view(3, 33, 256, 3, 3)
    assert torch.equal(weight[:, :32], given)
