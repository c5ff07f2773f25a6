"""Mixed precision: the boundary loss, the Eq. (1)/(2) targets and scores
and the scorer's losses under ``torch.autocast`` in float16 and bfloat16
(what ``--amp`` runs on GPU), on CPU: finite wherever float32 is, and
within a stated tolerance of float32.

Tolerances: float16 keeps 11 significant bits (relative step ~1e-3),
bfloat16 8 (~8e-3); a loss computed in float32 from logits rounded to them
moves by about that much, a small network's output by a few steps.
"""
import pytest
import torch
import torch.nn as nn

from mmb2inst.models.losses import BoundaryLoss
from mmb2inst.models.scoring import BoundaryAwareScorer
from mmb2inst.structures import (boundary_dice, image_boundary_map, mask_iou,
                                 rescore)

DTYPES = [torch.float16, torch.bfloat16]
LOSS_TOL = {torch.float16: 2e-3, torch.bfloat16: 1e-2}
NET_TOL = {torch.float16: 2e-2, torch.bfloat16: 6e-2}


def boundary_targets(batch: int, height: int, width: int) -> torch.Tensor:
    """Holistic boundary targets of random boxes: ~1-3% boundary pixels,
    as at COCO's stride-4 resolution."""
    gen = torch.Generator().manual_seed(0)
    maps = []
    for _ in range(batch):
        masks = torch.zeros(6, height, width)
        for m in masks:
            y0, x0 = torch.randint(0, height // 2, (2, ), generator=gen)
            h, w = torch.randint(8, height // 2, (2, ), generator=gen)
            m[y0:y0 + h, x0:x0 + w] = 1
        maps.append(image_boundary_map(masks)[None])
    return torch.stack(maps)


@pytest.mark.parametrize('dtype', DTYPES, ids=str)
@pytest.mark.parametrize('form', ['bounded', 'ratio'])
def test_boundary_loss_under_autocast(dtype, form):
    torch.manual_seed(0)
    target = boundary_targets(2, 200, 272)  # 800 x 1088 input at stride 4
    feats = torch.randn(2, 16, 200, 272)
    conv = nn.Conv2d(16, 1, 1)
    extra = {} if form == 'bounded' else dict(
        crisp_distance='ratio', crisp_wce_reduction='sum', crisp_alpha=1e-3)
    loss = BoundaryLoss(**extra)
    reference = loss(conv(feats), target)
    with torch.autocast('cpu', dtype=dtype):
        logits = conv(feats)
        assert logits.dtype == dtype
        value = loss(logits, target)
    assert value.dtype == torch.float32
    assert torch.isfinite(value)
    assert value.item() == pytest.approx(reference.item(), rel=LOSS_TOL[dtype])
    value.backward()
    assert all(torch.isfinite(p.grad).all() for p in conv.parameters())


def test_boundary_loss_sums_in_float32():
    # A 200 x 340 map (an 800 x 1360 input at stride 4) of p ~= 1: the sum
    # of p^2 is 68000, beyond float16's largest value (65504).
    logits = torch.full((1, 1, 200, 340), 12., dtype=torch.float16)
    target = boundary_targets(1, 200, 340)
    assert torch.isinf((logits.sigmoid()**2).sum())
    for form in ('bounded', 'ratio'):
        loss = BoundaryLoss(crisp_distance=form)
        value = loss(logits, target)
        assert torch.isfinite(value)
        assert value.item() == pytest.approx(
            loss(logits.float(), target).item(), rel=1e-6)


@pytest.mark.parametrize('dtype', DTYPES, ids=str)
def test_eq1_eq2_in_half_precision(dtype):
    gen = torch.Generator().manual_seed(1)
    gt = torch.rand(8, 28, 28, generator=gen) > 0.5
    # Probabilities away from the 0.5 threshold, so that rounding to the
    # half type cannot flip a pixel: the binarised masks are identical.
    probs = torch.where(
        torch.rand(8, 28, 28, generator=gen) > 0.4,
        torch.rand(8, 28, 28, generator=gen) * 0.4 + 0.55,
        torch.rand(8, 28, 28, generator=gen) * 0.4 + 0.05)
    half = probs.to(dtype)
    assert torch.equal(boundary_dice(half, gt), boundary_dice(probs, gt))
    assert torch.equal(mask_iou(half, gt), mask_iou(probs, gt))
    assert boundary_dice(half, gt).dtype == torch.float32
    cls, iou, bnd = torch.rand(3, 100, generator=gen)
    scores = rescore(cls.to(dtype), iou.to(dtype), bnd.to(dtype))
    assert scores.dtype == torch.float32
    assert torch.allclose(
        scores, rescore(cls, iou, bnd), rtol=LOSS_TOL[dtype], atol=1e-3)


def small_scorer() -> BoundaryAwareScorer:
    torch.manual_seed(0)
    scorer = BoundaryAwareScorer(
        in_channels=16,
        roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=16,
            featmap_strides=[8, 16, 32]),
        num_convs=4,
        conv_channels=16,
        downsample_first=True,
        fc_channels=32)
    scorer.init_weights()
    return scorer


def scorer_inputs():
    gen = torch.Generator().manual_seed(2)
    feats = [
        torch.randn(2, 16, 256 // s, 256 // s, generator=gen)
        for s in (8, 16, 32)
    ]
    xy = torch.rand(6, 2, generator=gen) * 150
    wh = torch.rand(6, 2, generator=gen) * 80 + 20
    rois = torch.cat([torch.tensor([0., 0, 0, 1, 1, 1])[:, None], xy, xy + wh],
                     1)
    probs = torch.rand(6, 28, 28, generator=gen)
    gt = torch.rand(6, 28, 28, generator=gen) > 0.5
    return feats, rois, probs, gt


@pytest.mark.parametrize('dtype', DTYPES, ids=str)
def test_scorer_losses_under_autocast(dtype):
    scorer = small_scorer()
    feats, rois, probs, gt = scorer_inputs()
    reference = scorer.loss(feats, rois, probs, gt)
    with torch.autocast('cpu', dtype=dtype):
        losses = scorer.loss([f.to(dtype) for f in feats], rois,
                             probs.to(dtype), gt)
        iou, bnd = scorer.predict([f.to(dtype) for f in feats], rois,
                                  probs.to(dtype))
    assert losses.keys() == reference.keys()
    for key, value in losses.items():
        assert value.dtype == torch.float32
        assert torch.isfinite(value)
        assert value.item() == pytest.approx(
            reference[key].item(), rel=NET_TOL[dtype], abs=1e-5), key
    ref_iou, ref_bnd = scorer.predict(feats, rois, probs)
    for pred, ref in ((iou, ref_iou), (bnd, ref_bnd)):
        assert pred.dtype == torch.float32
        assert torch.isfinite(pred).all()
        assert torch.allclose(pred, ref, atol=NET_TOL[dtype])
    sum(losses.values()).backward()
    assert all(
        torch.isfinite(p.grad).all() for p in scorer.parameters()
        if p.grad is not None)


@pytest.mark.parametrize('dtype', DTYPES, ids=str)
@pytest.mark.parametrize('config', [
    'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py',
    'configs/b2inst_blendmask/b2inst-blendmask_r18_1xb8-12e_toy.py',
])
@pytest.mark.slow
def test_training_step_under_autocast(config, dtype, coco_root):
    from test_polygon_masks import build_model, coco_batch, losses_of
    batch = coco_batch(coco_root, poly2mask=False)
    model = build_model(config)
    reference = losses_of(model, batch)
    with torch.autocast('cpu', dtype=dtype):
        losses = losses_of(model, batch)
    for key, value in losses.items():
        if 'loss' not in key:
            continue
        value = sum(value) if isinstance(value, (list, tuple)) else value
        assert torch.isfinite(value), key
    for key in ('loss_boundary', 'loss_score_iou', 'loss_score_boundary'):
        assert losses[key].dtype == torch.float32
        assert losses[key].item() == pytest.approx(
            reference[key].item(), rel=0.1, abs=1e-3), key
