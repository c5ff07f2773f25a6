"""BlendMask and B2Inst-BlendMask: the blender by hand, head shapes, targets,
upstream equalities (FCOS), training and prediction."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv.ops import batched_nms
from mmdet.models.dense_heads import CondInstBboxHead, FCOSHead
from mmdet.registry import MODELS
from mmdet.structures.mask import BitmapMasks
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config, ConfigDict
from mmengine.structures import InstanceData
from toy_runs import (ROOT, predict_with_and_without_scorer,
                      spread_scorer_outputs)

from mmb2inst.models.mask_heads import (blend, centerness_targets, paste_masks,
                                        pool_bases)
from mmb2inst.structures import semantic_targets

TOY = osp.join(ROOT, 'configs', 'blendmask', 'blendmask_r18_1xb8-12e_toy.py')
B2INST_DESIGN = osp.join(ROOT, 'configs', 'b2inst_blendmask',
                         'b2inst-blendmask_design-{}_r18_1xb8-12e_toy.py')
HBB = osp.join(ROOT, 'configs', 'b2inst_blendmask',
               'b2inst-blendmask_hbb_r18_1xb8-12e_toy.py')


class _Designs:
    """``B2INST.format(d)``: the toy config of Table 2 design ``d`` ((e) is
    the HBB config)."""

    @staticmethod
    def format(design):
        return HBB if design == 'e' else B2INST_DESIGN.format(design)


B2INST = _Designs()
# Table 1 rows with the scorer: '' (BS + MS), 'hbb-bs_', 'hbb-ms_'.
SCORED = osp.join(ROOT, 'configs', 'b2inst_blendmask',
                  'b2inst-blendmask_{}r18_1xb8-12e_toy.py')


def build(path, **model_overrides):
    cfg = Config.fromfile(path)
    cfg.model.update(model_overrides)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model


def batch(model, num_items=(3, 2), shapes=None, training=True, seed=0):
    shapes = shapes or [[3, 128, 128]] * len(num_items)
    packed = demo_mm_inputs(
        len(shapes),
        shapes,
        num_items=list(num_items),
        with_mask=True,
        num_classes=5)
    torch.manual_seed(seed)
    return model.data_preprocessor(packed, training)


# Pure functions
def test_blend_two_bases_one_box_by_hand():
    # Basis 0 is the x coordinate of the 4x4 map, basis 1 the y coordinate.
    ramp = torch.arange(4.)
    bases = torch.stack([ramp[None].expand(4, 4), ramp[:, None].expand(4, 4)])
    rois = torch.tensor([[0., 0., 0., 4., 4.]])
    pooled = pool_bases(bases[None], rois, size=2, spatial_scale=1.)
    # Aligned RoIAlign, one sample per bin: bins of 2 px centred at
    # 0 - 0.5 + (j + 0.5) * 2 = 0.5 and 2.5; bilinear on a ramp is exact.
    expected_x = torch.tensor([[0.5, 2.5], [0.5, 2.5]])
    assert torch.allclose(pooled[0, 0], expected_x)
    assert torch.allclose(pooled[0, 1], expected_x.t())
    # M = R = 2: the attention is not resized, only softmaxed over bases.
    attn = torch.tensor([[[0., 1.], [2., 0.]], [[0., 0.], [0., math.log(3)]]])
    logits = blend(pooled, attn[None])
    w0 = torch.tensor([[0.5, 1 / (1 + math.exp(-1))],
                       [1 / (1 + math.exp(-2)), 0.25]])
    hand = w0 * expected_x + (1 - w0) * expected_x.t()
    assert torch.allclose(logits[0], hand, atol=1e-6)
    # M = 1: a constant attention resized to R x R weighs every pixel alike.
    logits = blend(pooled, torch.tensor([[[[0.]], [[math.log(3)]]]]))
    assert torch.allclose(logits[0], 0.25 * expected_x + 0.75 * expected_x.t())


def test_blend_rejects_attention_of_wrong_basis_count():
    with pytest.raises(ValueError, match='one K x M x M attention'):
        blend(torch.zeros(2, 4, 8, 8), torch.zeros(2, 5, 7, 7))


def test_semantic_targets_by_hand():
    masks = torch.zeros(2, 8, 8, dtype=torch.bool)
    masks[0, :, :6] = True  # big instance of class 3 on the left
    masks[1, 4:, 4:] = True  # small instance of class 1, on top of it
    targets = semantic_targets(masks, torch.tensor([3, 1]), 5, (4, 4))
    expected = torch.tensor([[3, 3, 3, 5], [3, 3, 3, 5], [3, 3, 1, 1],
                             [3, 3, 1, 1]])
    assert torch.equal(targets, expected)
    assert torch.equal(
        semantic_targets(masks[:0], torch.tensor([]), 5, (2, 3)),
        torch.full((2, 3), 5))


def test_centerness_targets_by_hand():
    boxes = torch.tensor([[0., 0., 4., 4.]] * 3)
    points = torch.tensor([[2., 2.], [1., 2.], [1., 1.]])
    expected = torch.tensor([1., math.sqrt(1 / 3), 1 / 3])
    assert torch.allclose(centerness_targets(points, boxes), expected)


def test_paste_masks_into_box():
    masks = torch.ones(1, 2, 2)
    pasted = paste_masks(masks, torch.tensor([[2., 2., 6., 6.]]), 8, 10)
    assert pasted.shape == (1, 8, 10)
    expected = torch.zeros(8, 10, dtype=torch.bool)
    expected[2:6, 2:6] = True
    assert torch.equal(pasted[0] >= 0.5, expected)
    assert paste_masks(masks[:0], torch.zeros(0, 4), 8, 10).shape == (0, 8, 10)
    # binarised while pasting: the same masks, bool
    probs = torch.rand(3, 5, 5, generator=torch.Generator().manual_seed(0))
    boxes = torch.tensor([[1., 0., 7., 5.], [-2., 3., 4., 9.5], [0, 0, 10, 8]])
    binary = paste_masks(probs, boxes, 8, 10, threshold=0.5)
    assert binary.dtype == torch.bool
    assert torch.equal(binary, paste_masks(probs, boxes, 8, 10) >= 0.5)


# Detection head against mmdet's FCOS / CondInst
def small_fcos_cfg(**kwargs):
    cfg = dict(
        num_classes=3,
        in_channels=8,
        feat_channels=8,
        stacked_convs=1,
        strides=[8, 16],
        regress_ranges=((-1, 16), (16, 1e8)),
        norm_on_bbox=True,
        centerness_on_reg=True,
        center_sampling=True,
        center_sample_radius=1.5,
        norm_cfg=dict(type='GN', num_groups=4, requires_grad=True),
        test_cfg=ConfigDict(
            nms_pre=100,
            min_bbox_size=0,
            score_thr=0.0,
            nms=dict(type='nms', iou_threshold=0.6),
            max_per_img=50))
    cfg.update(kwargs)
    return cfg


def test_bbox_head_samples_around_box_centre_like_fcos():
    # Everything on the stride-8 level, whose 1.5 x 8 px sampling radius is
    # smaller than the distance between the two centres.
    ranges = dict(regress_ranges=((-1, 1e8), (1e8, 1e9)))
    head = MODELS.build(
        dict(
            type='BlendMaskBboxHead',
            num_bases=2,
            attn_size=3,
            **small_fcos_cfg(**ranges)))
    fcos = FCOSHead(**small_fcos_cfg(**ranges))
    # An L-shaped mask: its centroid is far from its box centre, which
    # CondInst would sample around.
    mask = np.zeros((1, 64, 64), np.uint8)
    mask[0, 8:40, 8:14] = 1
    mask[0, 34:40, 8:40] = 1
    gt = InstanceData(
        bboxes=torch.tensor([[8., 8., 40., 40.]]),
        labels=torch.tensor([1]),
        masks=BitmapMasks(mask, 64, 64))
    points = head.prior_generator.grid_priors([(8, 8), (4, 4)], device='cpu')
    ours = head.get_targets(points, [gt])
    theirs = fcos.get_targets(points, [gt])
    for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        assert torch.equal(a, b)
    condinst = CondInstBboxHead(num_params=18, **small_fcos_cfg(**ranges))
    assert not all(
        torch.equal(a, b)
        for a, b in zip(ours[0],
                        condinst.get_targets(points, [gt])[0]))


def adelaidet_detections(cls, reg, ctr, attn, strides, cfg):
    """AdelaiDet's FCOS inference for BlendMask (``THRESH_WITH_CTR``),
    written out for one image: per level, the (location, class) pairs with
    class x centerness > ``score_thr``, the top ``nms_pre`` of them, boxes
    from the location (stride // 2 offset) and distances, not clipped;
    class-aware NMS; the first ``max_per_img``; score sqrt(cls x ctr)."""
    boxes, scores, labels, params = [], [], [], []
    candidates = []
    for c, r, t, a, s in zip(cls, reg, ctr, attn, strides):
        num_classes, h, w = c.shape
        ys, xs = torch.meshgrid(
            torch.arange(h) * s + s // 2,
            torch.arange(w) * s + s // 2,
            indexing='ij')
        points = torch.stack([xs.flatten(), ys.flatten()], 1).float()
        prob = c.permute(1, 2, 0).reshape(-1, num_classes).sigmoid() * \
            t.permute(1, 2, 0).reshape(-1, 1).sigmoid()
        loc, label = (prob > cfg.score_thr).nonzero().unbind(1)
        score = prob[loc, label]
        candidates.append(len(score))
        if len(score) > cfg.nms_pre:
            score, top = score.topk(cfg.nms_pre)
            loc, label = loc[top], label[top]
        d = r.permute(1, 2, 0).reshape(-1, 4)[loc]
        p = points[loc]
        boxes.append(torch.cat([p - d[:, :2], p + d[:, 2:]], 1))
        scores.append(score)
        labels.append(label)
        params.append(a.permute(1, 2, 0).reshape(h * w, -1)[loc])
    boxes, scores, labels, params = (
        torch.cat(x) for x in (boxes, scores, labels, params))
    _, keep = batched_nms(boxes, scores, labels, cfg.nms)
    keep = keep[:cfg.max_per_img]
    return (boxes[keep], scores[keep].sqrt(), labels[keep], params[keep],
            candidates)


def test_bbox_head_selects_as_adelaidet():
    cfg = small_fcos_cfg()
    cfg['test_cfg'].update(score_thr=0.3, nms_pre=30)
    cfg['test_cfg'].pop('min_bbox_size')  # AdelaiDet has no such filter
    head = MODELS.build(
        dict(type='BlendMaskBboxHead', num_bases=2, attn_size=3, **cfg))
    condinst = CondInstBboxHead(num_params=18, **cfg)
    torch.manual_seed(0)
    for param in head.parameters():
        param.data.normal_(0, 0.2)
    head.conv_reg.bias.data.fill_(2.)  # boxes of ~4 strides
    for scale in head.scales:
        scale.scale.data.fill_(1.)
    condinst.load_state_dict(head.state_dict())
    head.eval()
    condinst.eval()
    feats = (torch.randn(1, 8, 8, 8), torch.randn(1, 8, 4, 4))
    metas = [dict(img_shape=(64, 64), scale_factor=(1., 1.))]
    with torch.no_grad():
        outs = head(feats)
        ours = head.predict_by_feat(*outs, batch_img_metas=metas)[0]
        theirs = condinst.predict_by_feat(
            *condinst(feats), batch_img_metas=metas)[0]
    boxes, scores, labels, params, candidates = adelaidet_detections(
        *[[level[0] for level in maps] for maps in outs], [8, 16],
        cfg['test_cfg'])
    # both the threshold and the per-level top-k select
    assert 0 < len(ours) < 50
    assert max(candidates) > 30 and min(candidates) > 0
    assert torch.equal(ours.bboxes, boxes)
    assert torch.allclose(ours.scores, scores)
    assert torch.equal(ours.labels, labels)
    assert torch.equal(ours.param_preds, params)
    # what AdelaiDet's selection changes here: boxes leave the image, and
    # mmdet's FCOS (class score > threshold, clipped boxes) keeps others
    assert ((boxes < 0) | (boxes > 64)).any()
    assert len(theirs) != len(ours)


# Whole model
@pytest.mark.slow
@pytest.mark.parametrize('design', [None, 'a', 'b', 'c', 'd', 'e'])
def test_forward_shapes(design):
    model = build(TOY if design is None else B2INST.format(design))
    data = batch(model)
    feats = model.extract_feat(data['inputs'])
    cls, box, ctr, attn = model.bbox_head(feats)
    num_bases = 5 if design in ('c', 'e') else 4
    for level, stride in enumerate([8, 16, 32, 64]):
        h = 128 // stride
        assert cls[level].shape == (2, 5, h, h)
        assert box[level].shape == (2, 4, h, h)
        assert ctr[level].shape == (2, 1, h, h)
        assert attn[level].shape == (2, num_bases * 49, h, h)
    model.train()
    bases, semantic, boundary = model.mask_head(feats)
    assert bases.shape == (2, num_bases, 32, 32)
    assert semantic.shape == (2, 6, 16, 16)
    if design is None:
        assert boundary is None
    else:
        assert boundary.shape == (2, 1, 32, 32)
        if num_bases == 5:
            assert torch.equal(bases[:, 4:], boundary.sigmoid())


@pytest.mark.slow
@pytest.mark.parametrize('design', [None, 'a', 'b', 'e'])
@pytest.mark.parametrize('num_items', [(3, 2), (0, 0)])
def test_train_step_losses_finite_and_every_parameter_used(design, num_items):
    model = build(TOY if design is None else B2INST.format(design))
    model.train()
    data = batch(model, num_items)
    losses = model.loss(data['inputs'], data['data_samples'])
    expected = {
        'loss_cls', 'loss_bbox', 'loss_centerness', 'loss_mask',
        'loss_semantic'
    } | (
        set() if design is None else {'loss_boundary'})
    assert set(losses) == expected
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    for name, param in model.named_parameters():
        # DDP with find_unused_parameters=False needs every parameter in
        # the graph, also for a batch without any instance.
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
    if sum(num_items) == 0:
        assert losses['loss_mask'].item() == 0


@pytest.mark.slow
def test_loss_goes_down_on_a_fixed_toy_batch():
    model = build(B2INST.format('e'))
    model.train()
    data = batch(model, (4, 3))
    optim = torch.optim.AdamW(model.parameters(), lr=2e-3)
    history = []
    for _ in range(8):
        losses = model.loss(data['inputs'], data['data_samples'])
        total = sum(losses.values())
        history.append({k: v.item() for k, v in losses.items()})
        optim.zero_grad()
        total.backward()
        optim.step()
    first, last = history[0], history[-1]
    assert sum(last.values()) < 0.8 * sum(first.values())
    assert last['loss_mask'] < first['loss_mask']
    assert last['loss_boundary'] < first['loss_boundary']


def test_predict_masks_at_original_size_and_boundary_map():
    model = build(B2INST.format('e'))
    model.bbox_head.test_cfg.score_thr = 0.
    model.eval()
    data = batch(model, (3, 2), training=False)
    for sample in data['data_samples']:
        # As if the 128x128 input were the 2x-downscaled 256x192 original.
        sample.set_metainfo(
            dict(ori_shape=(256, 192), scale_factor=(128 / 192, 0.5)))
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
        raw = model.bbox_head.predict(
            model.extract_feat(data['inputs']),
            data['data_samples'],
            rescale=False)
    for sample, boxes in zip(results, raw):
        pred = sample.pred_instances
        assert len(pred) == len(boxes) > 0
        assert pred.masks.shape == (len(pred), 256, 192)
        assert pred.masks.dtype == torch.bool
        scale = torch.tensor([192 / 128, 2., 192 / 128, 2.])
        assert torch.allclose(pred.bboxes, boxes.bboxes * scale)
        assert torch.equal(pred.scores, boxes.scores)
        assert sample.pred_boundary.data.shape == (1, 32, 32)
        assert 'boundary_map' not in pred.metainfo


def test_predict_without_detections():
    model = build(TOY)
    model.eval()
    data = batch(
        model, (2, 1), shapes=[[3, 128, 128], [3, 96, 128]], training=False)
    model.bbox_head.test_cfg.score_thr = 0.
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
    assert all(len(r.pred_instances) > 0 for r in results)
    model.bbox_head.test_cfg.score_thr = 1.01
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
    for sample, shape in zip(results, [(128, 128), (96, 128)]):
        assert len(sample.pred_instances) == 0
        assert sample.pred_instances.masks.shape == (0, ) + shape


@pytest.mark.parametrize('design,attn_size', [('e', 7), ('d', 7), ('e', 14),
                                              (None, 14)])
def test_detection_head_follows_the_mask_head(design, attn_size):
    # The attention layout is stated once, on the mask head (K bases, M):
    # the detection head gets K (+1 with the boundary as a basis) maps of
    # M x M, whatever its own config says.
    cfg = Config.fromfile(TOY if design is None else B2INST.format(design))
    cfg.model.mask_head.attn_size = attn_size
    cfg.model.bbox_head.num_bases = 99
    cfg.model.bbox_head.attn_size = 99
    model = MODELS.build(cfg.model)
    num = 5 if design == 'e' else 4
    assert model.bbox_head.num_bases == model.mask_head.num_bases == num
    assert model.bbox_head.attn_size == attn_size
    assert model.bbox_head.controller.out_channels == num * attn_size**2


@pytest.mark.slow
@pytest.mark.parametrize('row,branches', [('', ('iou', 'boundary')),
                                          ('hbb-bs_', ('boundary', )),
                                          ('hbb-ms_', ('iou', ))])
def test_scorer_rescores_masks_eq2(row, branches):
    model = build(SCORED.format(row))
    model.bbox_head.test_cfg.score_thr = 0.
    spread_scorer_outputs(model.mask_head.scorer)
    model.eval()
    data = batch(model, (3, 2), training=False)
    preds, plain = predict_with_and_without_scorer(model, data)
    for pred, ref in zip(preds, plain):
        assert len(pred) > 0
        # Detections and masks are the plain model's; only masks are
        # rescored, boxes keep their class score.
        for key in ('bboxes', 'labels', 'masks', 'scores'):
            assert torch.equal(pred[key], ref[key]), key
        iou = pred.get('iou_scores')
        bnd = pred.get('boundary_scores')
        assert (iou is not None) == ('iou' in branches)
        assert (bnd is not None) == ('boundary' in branches)
        if iou is not None and bnd is not None:
            expected = pred.scores * torch.sqrt(iou * bnd)
        else:
            expected = pred.scores * (iou if iou is not None else bnd)
        assert torch.allclose(pred.mask_scores, expected)
        assert expected.std() > 0
