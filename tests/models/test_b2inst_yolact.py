"""B2Inst-YOLACT: identity with mmdet's YOLACT when off, the Table 2 designs,
the boundary targets."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.structures import InstanceData
from toy_runs import ROOT, build_model, toy_batch

import mmb2inst  # noqa: F401

TOY_YOLACT = osp.join(ROOT, 'configs/yolact/yolact_r18_1xb8-12e_toy.py')
# Table 2 designs (a)-(e); (e) is the HBB config.
HBB_TOY = osp.join(ROOT, 'configs', 'b2inst_yolact',
                   'b2inst-yolact_hbb_r18_1xb8-12e_toy.py')
TOY_DESIGNS = sorted(
    glob.glob(osp.join(ROOT, 'configs/b2inst_yolact/*design-*_toy.py')))
TOY_DESIGNS.append(HBB_TOY)


def test_identical_to_mmdet_yolact_with_boundary_off():
    cfg = Config.fromfile(TOY_YOLACT).model
    theirs = build_model(cfg)
    ours_cfg = copy.deepcopy(cfg)
    ours_cfg.type = 'B2InstYOLACT'
    ours_cfg.mask_head.type = 'B2InstYOLACTProtonet'
    ours = build_model(ours_cfg, seed=1)
    # Same parameters and buffers, one-to-one (strict load).
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert set(ours.state_dict()) == set(theirs.state_dict())

    data = toy_batch(theirs)
    theirs.train()
    ours.train()
    loss_theirs = theirs.loss(data['inputs'], data['data_samples'])
    loss_ours = ours.loss(data['inputs'], data['data_samples'])
    assert loss_ours.keys() == loss_theirs.keys()
    for key in loss_theirs:
        a, b = loss_theirs[key], loss_ours[key]
        a = torch.stack(a).sum() if isinstance(a, list) else a
        b = torch.stack(b).sum() if isinstance(b, list) else b
        assert torch.equal(a, b), key

    theirs.eval()
    ours.eval()
    with torch.no_grad():
        pred_theirs = theirs.predict(data['inputs'], data['data_samples'])
        pred_ours = ours.predict(data['inputs'], data['data_samples'])
    for a, b in zip(pred_theirs, pred_ours):
        a, b = a.pred_instances, b.pred_instances
        assert len(a) > 0
        for key in ('bboxes', 'scores', 'labels', 'masks'):
            assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize('num_protos', [32, 33])
def test_b2inst_head_is_mmdets_yolact_head(num_protos):
    """B2InstYOLACTHead: mmdet's YOLACTHead's parameters and outputs; at
    CPU inference its coefficient conv runs channels-last (to float
    rounding), in training mmdet's forward itself."""
    head_cfg = copy.deepcopy(Config.fromfile(TOY_YOLACT).model.bbox_head)
    head_cfg.num_protos = num_protos
    torch.manual_seed(0)
    theirs = MODELS.build(head_cfg)
    ours = MODELS.build(dict(head_cfg, type='B2InstYOLACTHead'))
    ours.load_state_dict(theirs.state_dict(), strict=True)
    for conv in (theirs.conv_coeff, ours.conv_coeff):
        torch.nn.init.normal_(conv.weight, std=0.05)
        torch.nn.init.normal_(conv.bias, std=0.1)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    feats = tuple(
        torch.randn(2, head_cfg.in_channels, s, s) for s in (16, 8, 4))
    for mode in ('train', 'eval'):
        getattr(theirs, mode)()
        getattr(ours, mode)()
        with torch.no_grad():
            expected, got = theirs(feats), ours(feats)
        for a_levels, b_levels in zip(expected, got):
            for a, b in zip(a_levels, b_levels):
                assert a.shape == b.shape
                if mode == 'train':
                    assert torch.equal(a, b)
                else:
                    torch.testing.assert_close(b, a, rtol=0, atol=1e-5)
    coeffs = got[2][0]
    assert coeffs.shape[1] == 3 * num_protos and coeffs.abs().max() > 0.1


@pytest.mark.slow
@pytest.mark.parametrize('config', TOY_DESIGNS, ids=osp.basename)
def test_design_trains_and_predicts(config):
    cfg = Config.fromfile(config).model
    model = build_model(cfg)
    boundary_cfg = cfg.mask_head.boundary
    data = toy_batch(model)
    model.train()
    losses = model.loss(data['inputs'], data['data_samples'])
    assert 'loss_boundary' in losses
    total = sum(
        torch.stack(v).sum() if isinstance(v, list) else v
        for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    grad = model.mask_head.boundary.boundary_pred.weight.grad
    assert grad is not None and grad.abs().sum() > 0

    model.eval()
    with torch.no_grad():
        samples = model.predict(data['inputs'], data['data_samples'])
    for sample in samples:
        boundary = sample.pred_boundary.data
        # prototypes are at stride 4 of the 64x64 input
        assert boundary.shape == (1, 16, 16)
        assert float(boundary.min()) >= 0 and float(boundary.max()) <= 1
        assert 'boundary_map' not in sample.pred_instances.metainfo
    assert model.bbox_head.num_protos == (33 if boundary_cfg.get(
        'use_as_basis', True) else 32)


def test_mask_loss_reaches_boundary_branch_only_when_used_as_basis():
    for use_as_basis, expect_grad in ((True, True), (False, False)):
        cfg = Config.fromfile(TOY_DESIGNS[-1]).model  # design (e)
        cfg.mask_head.boundary.use_as_basis = use_as_basis
        model = build_model(cfg)
        data = toy_batch(model)
        losses = model.loss(data['inputs'], data['data_samples'])
        torch.stack(losses['loss_mask']).sum().backward()
        grad = model.mask_head.boundary.boundary_pred.weight.grad
        has_grad = grad is not None and bool(grad.abs().sum() > 0)
        assert has_grad == expect_grad


@pytest.mark.parametrize('use_as_basis,protos', [(True, 32), (False, 32),
                                                 (True, 16)])
def test_basis_counts_follow_the_protonet(use_as_basis, protos):
    # K is stated once (the protonet's last channels); the coefficients per
    # instance and the bases are K, + 1 with the boundary as a basis,
    # whatever num_protos the config says.
    cfg = Config.fromfile(TOY_DESIGNS[-1]).model
    cfg.mask_head.boundary.use_as_basis = use_as_basis
    channels = list(cfg.mask_head.proto_channels)
    channels[-1] = protos
    cfg.mask_head.proto_channels = tuple(channels)
    cfg.mask_head.num_protos = cfg.bbox_head.num_protos = 7
    model = MODELS.build(cfg)
    num = protos + int(use_as_basis)
    assert model.bbox_head.num_protos == model.mask_head.num_protos == num
    anchors = model.bbox_head.num_base_priors
    assert model.bbox_head.conv_coeff.out_channels == anchors * num


@pytest.mark.parametrize('key,value', [('supervision', 'regional'),
                                       ('fusion', 'pyramid'),
                                       ('basis_form', 'softmax')])
def test_unknown_design_option_names_the_key(key, value):
    cfg = Config.fromfile(TOY_DESIGNS[-1]).model
    cfg.mask_head.boundary[key] = value
    with pytest.raises(ValueError, match=f'{key}={value!r}'):
        MODELS.build(cfg)


def test_global_targets_by_hand():
    """A 64x64 square at (32, 32) in a 128x128 image; at stride 4 the map is
    32x32 and the square covers cells 8..23: its boundary is the 60 cells of
    that 16x16 block's perimeter. A second square touching it on the right
    keeps the shared edge from both sides."""
    boundary = MODELS.build(
        dict(type='BoundaryBasis', in_channels=8, feat_channels=8))
    masks = torch.zeros(2, 128, 128, dtype=torch.uint8)
    masks[0, 32:96, 32:96] = 1
    masks[1, 32:96, 96:128] = 1
    gt = InstanceData(
        masks=BitmapMasks(masks.numpy(), 128, 128),
        bboxes=torch.tensor([[32., 32., 96., 96.], [96., 32., 128., 96.]]),
        labels=torch.tensor([0, 0]))
    one = InstanceData(
        masks=BitmapMasks(masks[:1].numpy(), 128, 128),
        bboxes=gt.bboxes[:1],
        labels=gt.labels[:1])
    targets = boundary.get_global_targets([one, gt], (32, 32), 'cpu')
    assert targets.shape == (2, 1, 32, 32)
    expected = torch.zeros(32, 32)
    expected[8:24, 8:24] = 1
    expected[9:23, 9:23] = 0
    assert torch.equal(targets[0, 0], expected)
    assert int(targets[0].sum()) == 60
    # second image: columns 23 (left square's right edge) and 24 (right
    # square's left edge) are both boundary; the right square's right edge
    # is the image border, boundary too (zero padding).
    assert torch.all(targets[1, 0, 8:24, 23] == 1)
    assert torch.all(targets[1, 0, 8:24, 24] == 1)
    assert torch.all(targets[1, 0, 8:24, 31] == 1)
    assert int(targets[1, 0, 10, 25:31].sum()) == 0


def test_default_boundary_is_one_more_output_channel():
    """Single-scale, ``num_convs=0``: the boundary is a 1x1 conv of the basis
    tower, i.e. one more output channel of its last layer (no extra cost)."""
    single = MODELS.build(dict(type='BoundaryBasis', in_channels=16))
    assert len(single.boundary_convs) == 0
    assert sum(p.numel() for p in single.parameters()) == 16 + 1
    multi = MODELS.build(
        dict(
            type='BoundaryBasis',
            in_channels=16,
            feat_channels=8,
            fusion='multi',
            fpn_channels=4,
            fusion_levels=(0, 1)))
    assert len(multi.boundary_convs) == 2  # at least one conv + ReLU
    feat, logits = multi(
        torch.rand(2, 16, 8, 8),
        [torch.rand(2, 4, 4, 4),
         torch.rand(2, 4, 2, 2)])
    assert feat.shape == (2, 16, 8, 8) and logits.shape == (2, 1, 8, 8)
    # the predictor runs as a matrix product: the 1x1 conv's logits, and
    # its gradients
    for module, channels in ((single, 16), (multi, 8)):
        torch.nn.init.normal_(module.boundary_pred.bias)
        x = torch.randn(2, channels, 5, 7, requires_grad=True)
        conv = module.boundary_pred(x)
        logits = module.predict_logits(x)
        torch.testing.assert_close(logits, conv, rtol=0, atol=1e-6)
        grad = torch.randn_like(conv)
        expected = torch.autograd.grad(conv, x, grad)[0]
        torch.testing.assert_close(
            torch.autograd.grad(logits, x, grad)[0],
            expected,
            rtol=0,
            atol=1e-6)


@pytest.mark.parametrize('form', ['probability', 'logits', 'affine'])
def test_basis_forms(form):
    # What the boundary basis is: its probabilities, its logits, or a
    # learned a * p + b (a = 1, b = 0 at the start).
    cfg = Config.fromfile(TOY_DESIGNS[-1]).model
    cfg.mask_head.boundary.basis_form = form
    model = build_model(cfg)
    boundary = model.mask_head.boundary
    logits = torch.randn(2, 1, 8, 8) * 3
    expected = logits if form == 'logits' else logits.sigmoid()
    assert torch.equal(boundary.as_basis(logits), expected)
    assert ('basis_scale' in dict(boundary.named_parameters())) == (
        form == 'affine')
    if form == 'affine':
        data = toy_batch(model)
        losses = model.loss(data['inputs'], data['data_samples'])
        torch.stack(losses['loss_mask']).sum().backward()
        assert boundary.basis_scale.grad.abs() > 0
        assert boundary.basis_shift.grad.abs() > 0
