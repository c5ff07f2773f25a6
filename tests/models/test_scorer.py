"""The boundary-aware mask scorer (§4.2): targets by hand, the input layout,
losses without NaN on degenerate input, Eq. (2) / MS / BS through
B2Inst-YOLACT's predict, the dumped results, and the score-quality tool's
helpers."""
import copy
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmdet.evaluation import DumpDetResults
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.fileio import load
from mmengine.structures import InstanceData
from toy_runs import (ROOT, build_model, load_tool,
                      predict_with_and_without_scorer, spread_scorer_outputs,
                      toy_batch)

import mmb2inst  # noqa: F401
from mmb2inst.models.mask_heads.b2inst_yolact_protonet import masks_in_boxes
from mmb2inst.structures import laplacian_boundary

TOY_SCORER = osp.join(
    ROOT, 'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py')
# BlendMask with the scorer and without the holistic boundary basis.
BLENDMASK_SCORER = osp.join(ROOT, 'configs', 'b2inst_blendmask',
                            'b2inst-blendmask_bs-ms_r18_1xb8-12e_toy.py')
# Table 1's B2Inst-BlendMask with the paper's (Mask Scoring R-CNN's) scorer.
PAPER_SCORER = [
    osp.join(ROOT, 'configs', 'b2inst_blendmask',
             f'b2inst-blendmask_paper-scorer_{suffix}.py')
    for suffix in ('r18_1xb8-12e_toy', 'r50_1x_coco')
]


def small_scorer(**kwargs):
    """A CPU-cheap scorer on a 2-level, 8-channel FPN."""
    cfg = dict(
        type='BoundaryAwareScorer',
        in_channels=8,
        roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=8,
            featmap_strides=[8, 16]),
        num_convs=2,
        conv_channels=8,
        fc_channels=16)
    cfg.update(kwargs)
    torch.manual_seed(0)
    scorer = MODELS.build(cfg)
    scorer.init_weights()
    return scorer


def feats(batch=2, size=64):
    torch.manual_seed(1)
    return (torch.rand(batch, 8, size // 8,
                       size // 8), torch.rand(batch, 8, size // 16,
                                              size // 16))


def square(size, top, left, side):
    mask = torch.zeros(size, size)
    mask[top:top + side, left:left + side] = 1
    return mask


def set_outputs(scorer, iou=None, boundary=None):
    """Make the outputs constant: zero weights, the bias whose sigmoid is the
    value (``score_output='sigmoid'``) or the value itself (``'linear'``)."""
    for name, value in (('iou', iou), ('boundary', boundary)):
        if value is not None:
            layer = getattr(scorer, f'{name}_pred')
            torch.nn.init.zeros_(layer.weight)
            bias = value if scorer.score_output == 'linear' else math.log(
                value / (1 - value))
            torch.nn.init.constant_(layer.bias, bias)


def test_registered_in_mmdet():
    assert MODELS.get('BoundaryAwareScorer') is not None
    assert MODELS.scope == 'mmdet'


def test_targets_identical_masks_are_perfect():
    scorer = small_scorer()
    gt = square(16, 3, 4, 8)[None]
    # probabilities on both sides of mask_thr=0.5
    probs = gt * 0.9 + (1 - gt) * 0.2
    iou, dice = scorer.get_targets(probs, gt)
    assert iou.tolist() == [1.0] and dice.tolist() == [1.0]


@pytest.mark.parametrize('shift', [1, 2, 3])
def test_targets_of_a_shifted_square_by_hand(shift):
    """A 6x6 square (rows and cols 3..8 of a 16x16 frame) against itself
    shifted right by k pixels.

    IoU: intersection 6 * (6 - k), union 36 + 36 - 6 * (6 - k) = 6 * (6 + k),
    so IoU = (6 - k) / (6 + k): 5/7, 4/8, 3/9.

    Boundary Dice (Eq. (1), eps = 1): each boundary is the square's
    perimeter, 4 * 6 - 4 = 20 pixels. They share the top and bottom rows over
    the 6 - k overlapping columns; the vertical edges never coincide for
    k < 5 (the shifted left edge lies inside the other square, whose pixels
    there are interior). Intersection 2 * (6 - k), so
    Dice = (4 * (6 - k) + 1) / (20 + 20 + 1): 21/41, 17/41, 13/41.
    """
    scorer = small_scorer()
    gt = square(16, 3, 3, 6)[None]
    pred = square(16, 3, 3 + shift, 6)[None] * 0.8
    iou, dice = scorer.get_targets(pred, gt)
    assert iou.item() == pytest.approx((6 - shift) / (6 + shift))
    assert dice.item() == pytest.approx((4 * (6 - shift) + 1) / 41)


def test_targets_binarise_at_mask_thr():
    """Probabilities 0.55 inside the square: foreground at mask_thr=0.5, an
    empty prediction at 0.6 (IoU 0; Dice = (0 + 1) / (0 + 20 + 1))."""
    gt = square(16, 3, 3, 6)[None]
    probs = gt * 0.55
    iou, dice = small_scorer(mask_thr=0.5).get_targets(probs, gt)
    assert iou.item() == 1 and dice.item() == 1
    iou, dice = small_scorer(mask_thr=0.6).get_targets(probs, gt)
    assert iou.item() == 0 and dice.item() == pytest.approx(1 / 21)


def test_output_shapes_and_disabled_branches():
    rois = torch.tensor([[0, 4., 4., 40., 40.], [1, 10., 2., 30., 60.],
                         [1, 0., 0., 64., 64.]])
    probs = torch.rand(3, 28, 28)
    scorer = small_scorer()
    assert scorer.roi_size == (14, 14) and scorer.mask_size == (28, 28)
    out = scorer(feats(), rois, probs)
    assert out['iou'].shape == (3, ) and out['boundary'].shape == (3, )
    for kwargs, present in ((dict(with_boundary=False), 'iou'),
                            (dict(with_iou=False), 'boundary')):
        scorer = small_scorer(**kwargs)
        out = scorer(feats(), rois, probs)
        assert out[present].shape == (3, )
        assert [k for k, v in out.items() if v is None
                ] == [k for k in ('iou', 'boundary') if k != present]
        assert not hasattr(
            scorer, 'iou_pred' if present == 'boundary' else 'boundary_pred')
        assert list(scorer.loss(feats(), rois, probs, probs
                                > 0.5)) == [f'loss_score_{present}']


@pytest.mark.parametrize('downsample_first', [False, True])
def test_conv_layout_and_flops_by_hand(downsample_first):
    """The stride-2 conv is the last (Mask Scoring R-CNN) or the first one;
    the multiply-adds of the conv stack and fcs match a hand count."""
    from torch.utils.flop_counter import FlopCounterMode
    scorer = small_scorer(num_convs=3, downsample_first=downsample_first)
    strides = [m.stride[0] for m in scorer.convs if hasattr(m, 'stride')]
    assert strides == ([2, 1, 1] if downsample_first else [1, 1, 2])
    rois = torch.tensor([[0, 4., 4., 40., 40.], [1, 10., 2., 30., 60.]])
    with FlopCounterMode(display=False) as counter:
        out = scorer(feats(), rois, torch.rand(2, 28, 28))
    assert out['iou'].shape == (2, ) and out['boundary'].shape == (2, )
    # 3x3 convs (8 + 2 -> 8 -> 8 -> 8), 14x14 input, 7x7 after the stride;
    # two branches of fcs 8 * 7 * 7 -> 16 -> 16 -> 1.
    sizes = [49, 49, 49] if downsample_first else [196, 196, 49]
    convs = sum(cin * 8 * 9 * hw for cin, hw in zip((10, 8, 8), sizes))
    fcs = 2 * (8 * 49 * 16 + 16 * 16 + 16)
    assert counter.get_total_flops() == 2 * 2 * (convs + fcs)


def test_no_branch_is_a_clear_error():
    with pytest.raises(ValueError, match='with_iou.*with_boundary'):
        small_scorer(with_iou=False, with_boundary=False)


def test_unknown_score_output_is_a_clear_error():
    with pytest.raises(ValueError, match="score_output='softmax'.*'linear'"):
        small_scorer(score_output='softmax')


def test_input_is_features_mask_and_boundary_max_pooled():
    """A 20x20 square (rows and cols 4..23) in a 28x28 RoI: pooled 2x2 to
    14x14 the mask covers cells 2..11 (100 cells) and its one-pixel boundary
    (rows/cols 4 and 23) the perimeter of that 10x10 block, 36 cells."""
    scorer = small_scorer()
    seen = {}
    head = scorer.head
    scorer.head = lambda roi_feats, extra: seen.update(
        x=torch.cat([roi_feats, extra], 1)) or head(roi_feats, extra)
    mask = square(28, 4, 4, 20)
    scorer(feats(), torch.tensor([[0, 8., 8., 40., 40.]]), mask[None] * 0.7)
    x = seen['x']
    assert x.shape == (1, 8 + 2, 14, 14)
    expected_mask = torch.zeros(14, 14)
    expected_mask[2:12, 2:12] = 0.7
    assert torch.allclose(x[0, -2], expected_mask)
    expected_boundary = (expected_mask > 0).float()
    expected_boundary[3:11, 3:11] = 0
    assert torch.equal(x[0, -1], expected_boundary)
    assert int(x[0, -1].sum()) == 36
    # and it is the max-pooled Laplacian boundary of the binarised mask
    assert torch.equal(x[0, -1],
                       F.max_pool2d(laplacian_boundary(mask)[None], 2)[0])


def test_no_nan_on_degenerate_masks():
    """Empty predictions (no boundary), a prediction and GT filling the
    whole RoI (boundary = RoI border), an empty GT, tiny and zero-area
    boxes."""
    pred = torch.stack([
        torch.zeros(28, 28),
        torch.ones(28, 28),
        square(28, 5, 5, 1),
        torch.ones(28, 28)
    ])
    gt = torch.stack([
        square(28, 2, 2, 10),
        torch.ones(28, 28),
        torch.zeros(28, 28),
        torch.zeros(28, 28)
    ])
    rois = torch.tensor([[0, 4., 4., 40., 40.], [1, 0., 0., 64., 64.],
                         [0, 10., 10., 10.5, 10.5], [1, 20., 20., 20., 20.]])
    scorer = small_scorer()
    iou, dice = scorer.get_targets(pred, gt)
    assert iou.tolist() == [0, 1, 0, 0]
    assert dice[1].item() == 1 and torch.all(torch.isfinite(dice))
    losses = scorer.loss(feats(), rois, pred, gt)
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    for name, p in scorer.named_parameters():
        assert torch.all(torch.isfinite(p.grad)), name
    iou, boundary = scorer.predict(feats(), rois, pred)
    assert torch.all(torch.isfinite(iou)) and torch.all(
        torch.isfinite(boundary))


def test_zero_instances_in_loss_and_predict():
    scorer = small_scorer()
    empty = torch.zeros(0, 28, 28)
    losses = scorer.loss(feats(), torch.zeros(0, 5), empty, empty)
    assert set(losses) == {'loss_score_iou', 'loss_score_boundary'}
    total = sum(losses.values())
    assert total.item() == 0
    total.backward()
    # zero, yet connected to every parameter (no unused parameters in DDP)
    for name, p in scorer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() == 0, name
    iou, boundary = scorer.predict(feats(), torch.zeros(0, 5), empty)
    assert iou.shape == (0, ) and boundary.shape == (0, )


def test_subset_in_training():
    rois = torch.tensor([[0, 4., 4., 40., 40.]] * 10)
    probs = torch.rand(10, 28, 28)
    scorer = small_scorer(max_train_instances=4)
    seen = []
    head = scorer.head
    scorer.head = lambda roi_feats, extra: seen.append(roi_feats.shape[0]) \
        or head(roi_feats, extra)
    scorer.loss(feats(), rois, probs, probs > 0.3)
    assert seen == [4]


def test_mask_inputs_are_detached_features_are_not():
    scorer = small_scorer()
    fpn = tuple(f.requires_grad_() for f in feats())
    probs = torch.rand(2, 28, 28, requires_grad=True)
    rois = torch.tensor([[0, 4., 4., 40., 40.], [1, 8., 8., 30., 30.]])
    losses = scorer.loss(fpn, rois, probs, probs.detach() > 0.3)
    sum(losses.values()).backward()
    assert probs.grad is None
    assert fpn[0].grad is not None and fpn[0].grad.abs().sum() > 0


@pytest.mark.slow
def test_scorer_learns_on_fixed_batch():
    """A few Adam steps on one batch: the regression losses must drop."""
    torch.manual_seed(2)
    gt = torch.stack([square(28, 4, 4, 16)] * 8)
    # predictions of varying quality: the GT shifted by 0..7 pixels
    pred = torch.stack([square(28, 4, 4 + k, 16) for k in range(8)]) * 0.9
    rois = torch.tensor([[k % 2, 4., 4., 40., 40.] for k in range(8)])
    scorer = small_scorer()
    # The cross-entropy of soft targets t is at least their entropy H(t):
    # what can drop is the excess over it.
    floor = 0.
    for t in scorer.get_targets(pred, gt):
        t = t.clamp(1e-6, 1 - 1e-6)
        floor += float(-(t * t.log() + (1 - t) * (1 - t).log()).mean())
    optim = torch.optim.Adam(scorer.parameters(), lr=3e-3)
    history = []
    for _ in range(30):
        loss = sum(scorer.loss(feats(), rois, pred, gt).values())
        optim.zero_grad()
        loss.backward()
        optim.step()
        history.append(loss.item() - floor)
    assert history[-1] < 0.2 * history[0]


# B2Inst-YOLACT with the scorer


def test_masks_in_boxes_maps_input_pixels_to_the_prototype_grid():
    """Prototypes at stride 4 of a 64x64 input: a mask that is 1 on proto
    cells 4..11 (input pixels 16..47), pooled with the box [16, 16, 48, 48]
    (proto [4, 12), cell centres at i + 0.5, so aligned samples run from
    index 3.5): the 28 bins of 8/28 cells sample at 3.5 + (j + 0.5) * 2/7.
    Bin 0 samples 9/14 of the way from cell 3 (0) to cell 4 (1): 9/14; bin 1
    13/14; bins 2..25 are inside: 1; a corner (9/14)^2. The box [52, 0, 64,
    12] (proto cells 13..15 x 0..2) sees only zeros."""
    probs = torch.zeros(16, 16, 2)
    probs[4:12, 4:12] = 1
    boxes = torch.tensor([[16., 16., 48., 48.], [52., 0., 64., 12.]])
    out = masks_in_boxes(probs, boxes, dict(batch_input_shape=(64, 64)),
                         (28, 28))
    assert out.shape == (2, 28, 28)
    assert torch.allclose(out[0, 2:26, 2:26], torch.ones(24, 24))
    assert out[0, 14, 0].item() == pytest.approx(9 / 14)
    assert out[0, 14, 1].item() == pytest.approx(13 / 14)
    assert out[0, 0, 0].item() == pytest.approx((9 / 14)**2)
    assert torch.allclose(out[0], out[0].t())
    assert torch.allclose(out[0], out[0].flip(0, 1))
    assert torch.equal(out[1], torch.zeros(28, 28))
    assert masks_in_boxes(probs[..., :0], boxes[:0], dict(img_shape=(64, 64)),
                          (28, 28)).shape == (0, 28, 28)


@pytest.fixture(scope='module')
def toy_cfg():
    return Config.fromfile(TOY_SCORER).model


@pytest.mark.slow
def test_yolact_training_step(toy_cfg):
    model = build_model(toy_cfg)
    model.train()
    data = toy_batch(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    for key in ('loss_cls', 'loss_bbox', 'loss_mask', 'loss_segm',
                'loss_boundary', 'loss_score_iou', 'loss_score_boundary'):
        assert key in losses, key
    assert losses['loss_score_iou'] > 0 and losses['loss_score_boundary'] > 0
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    for name, p in model.named_parameters():
        if p.grad is not None:
            assert torch.all(torch.isfinite(p.grad)), name
    assert model.mask_head.scorer.iou_pred.weight.grad.abs().sum() > 0
    assert model.mask_head.scorer.boundary_pred.weight.grad.abs().sum() > 0

    # The scoring losses alone reach the FPN (RoI features) but not the
    # mask branch (prototypes, coefficients).
    model.zero_grad()
    losses = model.loss(data['inputs'], data['data_samples'])
    (losses['loss_score_iou'] + losses['loss_score_boundary']).backward()
    for module in (model.mask_head.protonet, model.bbox_head.conv_coeff,
                   model.mask_head.boundary):
        for p in module.parameters():
            assert p.grad is None or p.grad.abs().sum() == 0
    assert model.neck.fpn_convs[0].conv.weight.grad.abs().sum() > 0


@pytest.mark.slow
def test_yolact_training_without_gt(toy_cfg):
    model = build_model(toy_cfg)
    model.train()
    data = toy_batch(model, num_items=(0, 0))
    losses = model.loss(data['inputs'], data['data_samples'])
    assert losses['loss_score_iou'].item() == 0
    assert losses['loss_score_boundary'].item() == 0
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)


@pytest.mark.parametrize('with_iou,with_boundary',
                         [(True, True), (True, False), (False, True)])
def test_yolact_predict_rescores(toy_cfg, with_iou, with_boundary):
    cfg = copy.deepcopy(toy_cfg)
    cfg.mask_head.scorer.update(with_iou=with_iou, with_boundary=with_boundary)
    cfg.test_cfg.score_thr = 0.0  # random weights: keep every candidate
    model = build_model(cfg)
    spread_scorer_outputs(model.mask_head.scorer)
    data = toy_batch(model)
    model.eval()
    preds, plain = predict_with_and_without_scorer(model, data)
    for pred, ref in zip(preds, plain):
        assert len(pred) > 0
        # YOLACT's detections, masks and class scores are untouched
        assert torch.equal(pred.scores, ref.scores)
        for key in ('bboxes', 'labels', 'masks'):
            assert torch.equal(pred[key], ref[key]), key
        assert ('iou_scores' in pred) == with_iou
        assert ('boundary_scores' in pred) == with_boundary
        cls = pred.scores
        if with_iou and with_boundary:
            iou, boundary = pred.iou_scores, pred.boundary_scores
            assert iou.shape == boundary.shape == cls.shape
            for scores in (iou, boundary):
                assert torch.all((scores >= 0) & (scores <= 1))
                assert scores.std() > 0
            expected = cls * torch.sqrt(iou * boundary)  # Eq. (2)
        elif with_iou:
            expected = cls * pred.iou_scores  # MS
        else:
            expected = cls * pred.boundary_scores  # BS
        assert torch.allclose(pred.mask_scores, expected)
        assert torch.all(pred.mask_scores <= pred.scores)


def scorer_without_boundary(host):
    """The host's toy model with the scorer and without the boundary
    basis, and its test-time score threshold set to keep every box."""
    if host == 'yolact':
        cfg = copy.deepcopy(Config.fromfile(TOY_SCORER).model)
        cfg.mask_head.boundary = None
    else:
        cfg = copy.deepcopy(Config.fromfile(BLENDMASK_SCORER).model)
        assert cfg.mask_head.get('boundary') is None
    cfg.test_cfg.score_thr = 0.
    return build_model(cfg)


@pytest.mark.parametrize('host', ['yolact', 'blendmask'])
def test_scorer_without_boundary_basis_trains(host):
    """The scorer needs no boundary basis: the host's losses plus the two
    scoring losses, no boundary loss, and the scoring losses reach the
    scorer and the FPN."""
    model = scorer_without_boundary(host)
    assert model.mask_head.boundary is None
    model.train()
    data = toy_batch(model, size=128)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert 'loss_boundary' not in losses
    assert losses['loss_score_iou'] > 0
    assert losses['loss_score_boundary'] > 0
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    for name, p in model.mask_head.scorer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.mask_head.scorer.iou_pred.weight.grad.abs().sum() > 0
    assert model.mask_head.scorer.boundary_pred.weight.grad.abs().sum() > 0
    assert model.neck.fpn_convs[0].conv.weight.grad.abs().sum() > 0
    if host == 'blendmask':
        # DDP with find_unused_parameters=False: every parameter is used.
        for name, p in model.named_parameters():
            assert p.grad is not None, name


@pytest.mark.slow
@pytest.mark.parametrize('host', ['yolact', 'blendmask'])
def test_scorer_without_boundary_basis_rescores_eq2(host):
    """Without the boundary basis the scorer leaves the host's boxes, class
    scores and masks alone and ranks the masks by Eq. (2)."""
    model = scorer_without_boundary(host)
    spread_scorer_outputs(model.mask_head.scorer)
    model.eval()
    data = toy_batch(model, size=128)
    preds, plain = predict_with_and_without_scorer(model, data)
    for pred, ref in zip(preds, plain):
        assert len(pred) > 0
        for key in ('bboxes', 'labels', 'masks', 'scores'):
            assert torch.equal(pred[key], ref[key]), key
        iou, boundary = pred.iou_scores, pred.boundary_scores
        assert iou.std() > 0 and boundary.std() > 0
        assert torch.allclose(pred.mask_scores,
                              pred.scores * torch.sqrt(iou * boundary))


@pytest.mark.slow
def test_yolact_predict_without_detections(toy_cfg):
    cfg = copy.deepcopy(toy_cfg)
    cfg.test_cfg.score_thr = 1.1  # nothing passes
    model = build_model(cfg)
    model.eval()
    data = toy_batch(model)
    with torch.no_grad():
        samples = model.predict(data['inputs'], data['data_samples'])
    for sample in samples:
        pred = sample.pred_instances
        assert len(pred) == 0
        for key in ('scores', 'mask_scores', 'iou_scores', 'boundary_scores'):
            assert pred[key].shape == (0, ), key


@pytest.mark.slow
def test_dumped_results_keep_the_scores(toy_cfg, tmp_path):
    """What `mim test ... --out x.pkl` writes: mmdet's DumpDetResults in an
    MMEngine Evaluator, as tools/test.py appends it."""
    cfg = copy.deepcopy(toy_cfg)
    cfg.test_cfg.score_thr = 0.0
    model = build_model(cfg)
    model.eval()
    data = toy_batch(model)
    with torch.no_grad():
        samples = model.predict(data['inputs'], data['data_samples'])
    expected = [copy.deepcopy(s.pred_instances) for s in samples]
    out = str(tmp_path / 'preds.pkl')
    evaluator = Evaluator([DumpDetResults(out_file_path=out)])
    evaluator.process(data_samples=samples, data_batch=data)
    evaluator.evaluate(len(samples))
    dumped = load(out)
    assert len(dumped) == 2
    for result, pred in zip(dumped, expected):
        inst = result['pred_instances']
        for key in ('scores', 'mask_scores', 'iou_scores', 'boundary_scores'):
            assert torch.equal(inst[key], pred[key]), key
        assert len(inst['masks']) == len(pred)  # RLE-encoded


def test_toy_scorer_config_only_adds_the_scorer(toy_cfg):
    base = Config.fromfile(
        osp.join(ROOT, 'configs', 'b2inst_yolact',
                 'b2inst-yolact_hbb_r18_1xb8-12e_toy.py'))
    ours = build_model(toy_cfg)
    theirs = build_model(base.model)
    extra = set(ours.state_dict()) - set(theirs.state_dict())
    assert set(theirs.state_dict()) <= set(ours.state_dict())
    assert extra and all(k.startswith('mask_head.scorer.') for k in extra)


# tools/analysis_tools/score_quality.py


def test_spearman_by_hand():
    """x = 1..5, y = [5, 6, 7, 8, 7]. Ranks of y with ties averaged:
    [1, 2, 3.5, 5, 3.5]. Centred ranks: x [-2, -1, 0, 1, 2], y [-2, -1, 0.5,
    2, 0.5]; covariance sum 4 + 1 + 0 + 2 + 1 = 8, squares 10 and 9.5:
    rho = 8 / sqrt(95)."""
    tool = load_tool('analysis_tools/score_quality')
    assert tool.spearman([1, 2, 3, 4, 5],
                         [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95))
    assert tool.spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1)
    assert math.isnan(tool.spearman([1], [2]))
    assert math.isnan(tool.spearman([1, 2, 3], [4, 4, 4]))


def test_match_predictions_by_hand():
    """12x12 image, GT 0 (class 0) = rows/cols 2..7, GT 1 (class 1) = rows
    and cols 9..10.

    - pred 0 (class 0): GT 0 shifted right by 2 (cols 4..9), box [4, 2, 10,
      8]. Mask IoU 4/8. Cropped to its box (rows 2..7, cols 4..9) the
      prediction fills the 6x6 crop, boundary = crop perimeter, 20 px; GT 0
      is the crop's cols 0..3, a 6x4 block whose boundary is its perimeter,
      16 px. Shared: top and bottom rows over cols 0..3 (8) and col 0 rows
      1..4 (4) = 12. Dice = (24 + 1) / (20 + 16 + 1) = 25/37.
    - pred 1 (class 1) lies on GT 0 only, a GT of another class: unmatched.
    - pred 2 (class 0) = GT 0 with GT 0's box: IoU 1, Dice 1.
    """
    tool = load_tool('analysis_tools/score_quality')
    gt = torch.zeros(2, 12, 12, dtype=torch.bool)
    gt[0, 2:8, 2:8] = True
    gt[1, 9:11, 9:11] = True
    pred = torch.zeros(3, 12, 12, dtype=torch.bool)
    pred[0, 2:8, 4:10] = True
    pred[1, 3:6, 3:6] = True
    pred[2] = gt[0]
    boxes = torch.tensor([[4., 2., 10., 8.], [3., 3., 6., 6.],
                          [2., 2., 8., 8.]])
    matched, iou, dice = tool.match_predictions(pred, torch.tensor([0, 1, 0]),
                                                boxes, gt, torch.tensor([0,
                                                                         1]))
    assert matched.tolist() == [0, 2]
    assert iou.tolist() == pytest.approx([0.5, 1.0])
    assert dice.tolist() == pytest.approx([25 / 37, 1.0])
    # no GT at all: nothing matched
    matched, iou, dice = tool.match_predictions(
        pred, torch.tensor([0, 1, 0]), boxes, gt[:0],
        torch.zeros(0, dtype=torch.long))
    assert matched.numel() == iou.numel() == dice.numel() == 0


def test_ranking_ap_by_hand(tmp_path):
    """One 20x20 image, GT A (rows/cols 5..14, class 1) and GT B (rows
    16..19, cols 0..3, class 3), and three class-1 predictions: p0 = A less
    4 pixels (IoU 0.96) with class score 0.3, p1 = a 9x8 part of A (IoU
    0.72) with 0.9, p2 = exactly B (another class's object) with 0.1.
    Category 3 has a GT and no prediction: AP 0 whatever the ranking, so
    every mean is half category 1's.

    - class score (p1, p0, p2): at IoU thresholds 0.50-0.70 p1 is the true
      positive (AP 1), at 0.75-0.95 a false positive before p0 (precision
      1/2 at recall 1: AP 1/2): (5 + 2.5) / 10 = 0.75, mean 37.5;
    - true IoU with a GT of its class (p0 0.96, p1 0.72, p2 0): p0 first,
      AP 1 at every threshold, mean 50;
    - true IoU with a GT of any class (p2 1.0, p0 0.96, p1): the
      wrong-class p2 first, AP 1/2 at every threshold, mean 25;
    - class score times that (p1 0.648, p0 0.288, p2 0.1): the class
      score's order, mean 37.5."""
    import json
    tool = load_tool('analysis_tools/score_quality')
    gt = torch.zeros(2, 20, 20, dtype=torch.bool)
    gt[0, 5:15, 5:15] = True
    gt[1, 16:20, 0:4] = True

    def annotation(i, cat, x0, y0, x1, y1):
        return dict(
            id=i,
            image_id=7,
            category_id=cat,
            iscrowd=0,
            area=(x1 - x0) * (y1 - y0),
            bbox=[x0, y0, x1 - x0, y1 - y0],
            segmentation=[[x0, y0, x1, y0, x1, y1, x0, y1]])

    ann = dict(
        images=[dict(id=7, width=20, height=20, file_name='x.png')],
        categories=[dict(id=1, name='a'),
                    dict(id=3, name='b')],
        annotations=[
            annotation(1, 1, 5, 5, 15, 15),
            annotation(2, 3, 0, 16, 4, 20)
        ])
    ann_file = str(tmp_path / 'ann.json')
    with open(ann_file, 'w') as f:
        json.dump(ann, f)
    masks = torch.zeros(3, 20, 20, dtype=torch.bool)
    masks[0] = gt[0]
    masks[0, 5, 5:9] = False
    masks[1, 5:14, 5:13] = True
    masks[2] = gt[1]
    pred = InstanceData(
        masks=masks,
        labels=torch.tensor([0, 0, 0]),
        scores=torch.tensor([0.3, 0.9, 0.1]))
    dets = tool.detections(pred, gt, torch.tensor([0, 1]), 7, [1, 3])
    assert [d['category_id'] for d in dets] == [1, 1, 1]
    assert [d['oracle'] for d in dets] == pytest.approx([0.96, 0.72, 0.])
    assert [d['mask_oracle'] for d in dets] == pytest.approx([0.96, 0.72, 1.0])
    assert 'mask_scores' not in dets[0]
    report = tool.rank_report(ann_file, [7], dets)
    assert report == pytest.approx(
        dict(
            rank_ap_scores=37.5,
            rank_ap_oracle=50.0,
            rank_ap_mask_oracle=25.0,
            rank_ap_cls_mask_oracle=37.5))
    assert tool.rank_report(ann_file, [7], []) == {}
    from pycocotools.coco import COCO
    assert math.isnan(tool.ranking_ap(COCO(ann_file), [7], [], 'scores'))


def test_loss_by_hand_with_constant_predictions():
    """Constant scores 0.2 (IoU) and 0.6 (boundary), i.e. logits whose
    sigmoids they are; binary cross-entropy of the logits with the soft
    targets (weight 1): for scores p and targets t, mean(-t log p - (1 - t)
    log(1 - p)). Instances: identical (IoU 1, Dice 1), disjoint (IoU 0,
    supervised; Dice (0 + 1) / (20 + 20 + 1) = 1/41), and one whose GT crop
    is empty (no target, left out). The masks are given in the scorer's
    28 x 28 frame, so nothing is resampled."""
    gt = torch.stack(
        [square(28, 3, 3, 6),
         square(28, 3, 3, 6),
         square(28, 0, 0, 0)])
    pred = torch.stack(
        [square(28, 3, 3, 6),
         square(28, 10, 10, 6),
         square(28, 3, 3, 6)]) * 0.9
    rois = torch.tensor([[0, 4., 4., 40., 40.]] * 3)
    scorer = small_scorer()
    set_outputs(scorer, iou=0.2, boundary=0.6)
    losses = scorer.loss(feats(), rois, pred, gt)

    def bce(p, t):
        return -(t * math.log(p) + (1 - t) * math.log(1 - p))

    assert losses['loss_score_iou'].item() == pytest.approx(
        (bce(0.2, 1) + bce(0.2, 0)) / 2, rel=1e-5)
    assert losses['loss_score_boundary'].item() == pytest.approx(
        (bce(0.6, 1) + bce(0.6, 1 / 41)) / 2, rel=1e-5)
    iou, bnd = scorer.predict(feats(), rois, pred)
    assert torch.allclose(iou, torch.full((3, ), 0.2))
    assert torch.allclose(bnd, torch.full((3, ), 0.6))


def test_linear_loss_by_hand_with_constant_outputs():
    """Mask Scoring R-CNN's form: constant linear outputs 0.2 (IoU) and 0.6
    (boundary), squared error weighted 0.5, mean over instances. Instances
    as in the sigmoid case: targets IoU (1, 0), Dice (1, 1/41), the empty
    GT left out. IoU: 0.5 * ((0.2 - 1)^2 + (0.2 - 0)^2) / 2
    = 0.5 * (0.64 + 0.04) / 2 = 0.17. Boundary: 0.5 * ((0.6 - 1)^2 +
    (0.6 - 1/41)^2) / 2 = 0.5 * (0.16 + (23.6/41)^2) / 2 = 0.1228316..."""
    gt = torch.stack(
        [square(28, 3, 3, 6),
         square(28, 3, 3, 6),
         square(28, 0, 0, 0)])
    pred = torch.stack(
        [square(28, 3, 3, 6),
         square(28, 10, 10, 6),
         square(28, 3, 3, 6)]) * 0.9
    rois = torch.tensor([[0, 4., 4., 40., 40.]] * 3)
    scorer = small_scorer(score_output='linear')
    assert [type(scorer.loss_iou).__name__, scorer.loss_iou.loss_weight] == \
        ['MSELoss', 0.5]
    assert [
        type(scorer.loss_boundary).__name__, scorer.loss_boundary.loss_weight
    ] == ['MSELoss', 0.5]
    set_outputs(scorer, iou=0.2, boundary=0.6)
    losses = scorer.loss(feats(), rois, pred, gt)
    assert losses['loss_score_iou'].item() == pytest.approx(0.17, rel=1e-5)
    assert losses['loss_score_boundary'].item() == pytest.approx(
        0.12283165, rel=1e-5)
    iou, bnd = scorer.predict(feats(), rois, pred)
    assert torch.allclose(iou, torch.full((3, ), 0.2))
    assert torch.allclose(bnd, torch.full((3, ), 0.6))


def test_linear_scores_are_clamped_to_0_1():
    """Linear outputs outside [0, 1] are clamped for Eq. (2), inside it
    they are the scores; training sees them unclamped."""
    scorer = small_scorer(score_output='linear')
    outputs = torch.tensor([-0.5, 0., 0.3, 1., 1.7])
    assert scorer.scores(outputs).tolist() == pytest.approx(
        [0., 0., 0.3, 1., 1.])
    set_outputs(scorer, iou=1.3, boundary=-0.2)
    rois = torch.tensor([[0, 4., 4., 40., 40.]] * 2)
    probs = torch.stack([square(28, 3, 3, 6)] * 2) * 0.9
    iou, boundary = scorer.predict(feats(), rois, probs)
    assert iou.tolist() == [1., 1.] and boundary.tolist() == [0., 0.]
    raw = scorer(feats(), rois, probs)
    assert raw['iou'].tolist() == pytest.approx([1.3, 1.3])
    # the loss of the unclamped output: 0.5 * (1.3 - 1)^2 for a perfect mask
    losses = scorer.loss(feats(), rois, probs, probs > 0.5)
    assert losses['loss_score_iou'].item() == pytest.approx(0.045, rel=1e-5)


def test_scores_and_gradients_stay_bounded():
    # Scores are sigmoids of logits: whatever the features, they stay in
    # [0, 1], and so does the gradient of the loss in each logit.
    scorer = small_scorer()
    pred = torch.stack([square(16, 3, 3, 6)] * 2)
    rois = torch.tensor([[0, 4., 4., 40., 40.]] * 2)
    huge = [f * 1e4 for f in feats()]
    for value in scorer.predict(huge, rois, pred):
        assert ((value >= 0) & (value <= 1)).all()
    raw = scorer(huge, rois, pred)
    assert max(v.abs().max() for v in raw.values() if v is not None) > 1
    # The gradient of the loss in each logit is (sigmoid(x) - target) / N.
    logits = {k: v.detach().requires_grad_() for k, v in raw.items()}
    targets = torch.rand(2)
    for name in scorer.branches:
        loss = getattr(scorer, f'loss_{name}')(logits[name], targets)
        grad, = torch.autograd.grad(loss, logits[name])
        assert grad.abs().max() <= 0.5 + 1e-6


def test_targets_in_the_scorers_frame():
    # BlendMask blends at 56 x 56: its masks are resampled to the scorer's
    # 28 x 28 frame before the targets (the same as giving them at 28).
    scorer = small_scorer()
    big = square(56, 6, 6, 24)
    gt_big = square(56, 10, 6, 24)
    small = square(28, 3, 3, 12)
    gt_small = square(28, 5, 3, 12)
    rois = torch.tensor([[0, 4., 4., 40., 40.]])
    torch.manual_seed(0)
    at56 = scorer.loss(feats(), rois, big[None] * 0.9, gt_big[None])
    torch.manual_seed(0)
    at28 = scorer.loss(feats(), rois, small[None] * 0.9, gt_small[None])
    for key in at56:
        assert at56[key].item() == pytest.approx(at28[key].item(), rel=1e-5)
    assert scorer.in_frame(big[None]).shape == (1, 28, 28)


def test_box_frame_sizes_by_hand():
    # (height, width) of each box in pixels, rounded, the longest side
    # capped at max_frame_size with the aspect kept, at least 1.
    scorer = small_scorer(target_frame='box', max_frame_size=40)
    rois = torch.tensor([[0, 0, 0, 30, 10.], [0, 5, 5, 105, 55],
                         [0, 1, 1, 3.4, 1.2], [0, 0, 0, 50, 130]])
    assert scorer.frame_sizes(rois).tolist() == [[10, 30], [20, 40], [1, 2],
                                                 [40, 15]]
    assert scorer.mask_size == scorer.gt_size == (40, 40)
    assert small_scorer().gt_size is None


def test_box_frames_resample_each_mask_to_its_box():
    # One padded tensor; each mask at its box's size exactly as
    # F.interpolate resizes it, zero outside; the Laplacian boundary of the
    # padded frame is that of the h x w one (outside counts as outside).
    scorer = small_scorer(target_frame='box', max_frame_size=40)
    rois = torch.tensor([[0, 0, 0, 30, 10.], [0, 5, 5, 105, 55],
                         [0, 1, 1, 3.4, 1.2], [0, 0, 0, 50, 130]])
    torch.manual_seed(0)
    masks = torch.rand(4, 56, 56)
    frames, sizes = scorer.box_frames(masks, rois)
    assert frames.shape == (4, 40, 40)
    for i, (h, w) in enumerate(sizes.tolist()):
        ref = F.interpolate(
            masks[i][None, None], (h, w), mode='bilinear',
            align_corners=False)[0, 0]
        assert torch.allclose(frames[i, :h, :w], ref, atol=1e-5)
        assert frames[i, h:].abs().sum() == 0
        assert frames[i, :, w:].abs().sum() == 0
        boundary = laplacian_boundary(frames[i:i + 1] >= 0.5)[0]
        assert torch.equal(boundary[:h, :w],
                           laplacian_boundary(ref[None] >= 0.5)[0])
        assert boundary.sum() == boundary[:h, :w].sum()


def test_box_frame_targets_by_hand():
    # A 100 x 100 box whose GT is a square of side 50 and whose prediction
    # is the same square shifted right by 2 px, given at 100 x 100 (so the
    # box frame resamples nothing). IoU 48 * 50 / (2 * 2500 - 48 * 50);
    # boundary Dice (2 * shared + 1) / (196 + 196 + 1): each 1-px outline
    # has 4 * 50 - 4 = 196 pixels and they share the 48 common columns of
    # the top and the bottom rows (the vertical edges are 2 px apart). The
    # fixed 28 x 28 frame sees the square at a quarter of the size and
    # gives other values.
    box = small_scorer(target_frame='box', max_frame_size=112)
    fixed = small_scorer()
    gt = square(100, 25, 25, 50)
    pred = square(100, 25, 27, 50)
    rois = torch.tensor([[0, 4., 4., 104., 104.]])
    frames, _ = box.box_frames(torch.stack([pred, gt]), rois.repeat(2, 1))
    assert torch.equal(frames[0] >= 0.5, pred >= 0.5)
    iou, dice = box.get_targets(frames[:1], frames[1:] >= 0.5)
    assert iou.item() == pytest.approx(2400 / 2600, rel=1e-6)
    # outlines: 196 px each; shared: the top and bottom rows' 48 common
    # columns (x in 27..74) = 96
    assert dice.item() == pytest.approx(
        (2 * 96 + 1) / (196 + 196 + 1), rel=1e-6)
    iou28, dice28 = fixed.get_targets(
        fixed.in_frame(pred[None]),
        fixed.in_frame(gt[None]) >= 0.5)
    assert iou28.item() != pytest.approx(iou.item(), abs=1e-3)
    assert dice28.item() != pytest.approx(dice.item(), abs=1e-3)


def test_box_frame_loss_uses_box_targets():
    # The loss's targets are those of the box frames: constant scores and
    # the BCE of the hand targets above (weight 1, mean over instances).
    scorer = small_scorer(target_frame='box', max_frame_size=112)
    set_outputs(scorer, iou=0.2, boundary=0.6)
    gt = square(112, 28, 28, 56)
    pred = square(112, 28, 30, 56) * 0.9
    rois = torch.tensor([[0, 4., 4., 104., 104.]])
    frames, _ = scorer.box_frames(torch.stack([pred, gt]), rois.repeat(2, 1))
    iou, dice = scorer.get_targets(frames[:1], frames[1:] >= 0.5)
    losses = scorer.loss(feats(), rois, pred[None], gt[None])

    def bce(p, t):
        return -(t * math.log(p) + (1 - t) * math.log(1 - p))

    assert losses['loss_score_iou'].item() == pytest.approx(
        bce(0.2, iou.item()), rel=1e-5)
    assert losses['loss_score_boundary'].item() == pytest.approx(
        bce(0.6, dice.item()), rel=1e-5)


def test_box_frame_inputs_are_pooled_from_each_frame():
    # The mask and boundary channels: each box's frame max-pooled to the
    # RoI size, one instance at a time by hand.
    scorer = small_scorer(target_frame='box', max_frame_size=64)
    rois = torch.tensor([[0, 0, 0, 30, 10.], [1, 5, 5, 60, 50],
                         [0, 2, 2, 9, 7]])
    torch.manual_seed(3)
    masks = torch.rand(3, 64, 64)
    got = scorer._box_inputs(masks, rois)
    frames, sizes = scorer.box_frames(masks, rois)
    for i, (h, w) in enumerate(sizes.tolist()):
        frame = F.interpolate(
            masks[i][None, None], (h, w), mode='bilinear',
            align_corners=False)[0]
        both = torch.cat([frame, laplacian_boundary(frame >= 0.5)])
        ref = F.adaptive_max_pool2d(both[None], 14)[0]
        assert torch.allclose(got[i], ref, atol=1e-5)
    out = scorer(feats(), rois, masks)
    assert out['iou'].shape == out['boundary'].shape == (3, )
    empty = scorer.predict(feats(), rois[:0], masks[:0])
    assert empty[0].shape == empty[1].shape == (0, )


@pytest.mark.slow
@pytest.mark.parametrize('host', ['yolact', 'blendmask'])
def test_box_frame_in_both_hosts(host):
    # The hosts hand masks and GT crops at the cap (gt_size); a training
    # step gives finite losses whose targets are those of the box frames,
    # and prediction scores every detection.
    config = TOY_SCORER if host == 'yolact' else osp.join(
        ROOT, 'configs', 'b2inst_blendmask',
        'b2inst-blendmask_box-frame_r18_1xb8-12e_toy.py')
    cfg = copy.deepcopy(Config.fromfile(config).model)
    cfg.mask_head.scorer.target_frame = 'box'
    cfg.mask_head.scorer.max_frame_size = 48
    cfg.test_cfg.score_thr = 0.
    model = build_model(cfg)
    scorer = model.mask_head.scorer
    seen = []
    original = scorer.get_targets
    scorer.get_targets = lambda p, g: seen.append((p, g)) or original(p, g)
    model.train()
    data = toy_batch(model, size=128)
    losses = model.loss(data['inputs'], data['data_samples'])
    for key in ('loss_score_iou', 'loss_score_boundary'):
        assert torch.isfinite(losses[key]) and losses[key] > 0
    (probs, gts), = seen
    assert probs.shape == gts.shape and probs.shape[-1] <= 48
    assert gts.dtype == torch.bool and gts.flatten(1).any(1).any()
    model.eval()
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
    for sample in results:
        inst = sample.pred_instances
        assert len(inst) > 0
        assert ((inst.mask_scores >= 0) & (inst.mask_scores <= 1)).all()


@pytest.mark.parametrize('path', PAPER_SCORER, ids=osp.basename)
def test_paper_scorer_rows_are_mask_scoring_rcnns_head(path):
    """The toy and COCO rows build MS R-CNN's MaskIoUHead sizes (4 convs of
    256, stride 2 on the last, fcs of 1024 -> 1) with linear outputs and
    its squared error (weight 0.5), and differ from the shipped
    B2Inst-BlendMask in those scorer keys only."""
    cfg = Config.fromfile(path)
    scorer = MODELS.build(cfg.model.mask_head).scorer
    convs = [m for m in scorer.convs if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [256] * 4
    assert [c.stride for c in convs] == [(1, 1)] * 3 + [(2, 2)]
    for name in ('iou', 'boundary'):
        fcs = [
            m for m in getattr(scorer, f'{name}_fcs')
            if isinstance(m, torch.nn.Linear)
        ]
        assert [fc.out_features for fc in fcs] == [1024, 1024]
        assert fcs[0].in_features == 256 * 7 * 7
        assert getattr(scorer, f'{name}_pred').in_features == 1024
        loss = getattr(scorer, f'loss_{name}')
        assert (type(loss).__name__, loss.loss_weight,
                loss.reduction) == ('MSELoss', 0.5, 'mean')
    assert scorer.score_output == 'linear'
    shipped = Config.fromfile(path.replace('_paper-scorer', ''))
    shipped.model.mask_head.scorer.update(
        conv_channels=256,
        downsample_first=False,
        fc_channels=1024,
        score_output='linear')
    assert cfg.to_dict() == shipped.to_dict()


@pytest.mark.slow
def test_paper_scorer_toy_row_trains():
    """The first steps of the toy row with its own optimizer (AdamW,
    clipped) and warm-up: every loss finite at every step, no scoring loss
    past 100x its first value (where LossGuardHook stops a run), and the
    scorer learns."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS
    cfg = Config.fromfile(PAPER_SCORER[0])
    model = build_model(cfg.model)
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    warmup = cfg.param_scheduler[0]
    assert warmup.type == 'LinearLR'
    warmup = PARAM_SCHEDULERS.build(dict(warmup, optimizer=optim))
    data = toy_batch(model, num_items=(4, 3), size=128)
    scorer = model.mask_head.scorer
    before = scorer.iou_pred.weight.detach().clone()
    history = []
    for _ in range(4):
        losses = model.loss(data['inputs'], data['data_samples'])
        for name, value in losses.items():
            assert torch.isfinite(value).all(), name
        history.append({k: v.item() for k, v in losses.items()})
        total, _ = model.parse_losses(losses)
        optim.update_params(total)
        warmup.step()
    for name in ('loss_score_iou', 'loss_score_boundary'):
        values = [h[name] for h in history]
        assert max(values) < 100 * values[0], (name, values)
    assert not torch.equal(scorer.iou_pred.weight, before)
