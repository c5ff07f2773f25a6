"""mmb2inst.models.utils.roi_align on views that are not contiguous, and
gather_roi_align against mmcv's RoIAlign."""
import pytest
import torch
from mmcv.ops import RoIAlign

from mmb2inst.models.utils import gather_roi_align, roi_align


def test_permuted_view_pools_the_same_as_its_contiguous_copy():
    # YOLACT's instance masks are (h, w, N); the scorer pools them as
    # (N, 1, h, w). mmcv's kernel reads memory as contiguous, so without a
    # copy a permuted view pooled other instances' pixels (found by the ONNX
    # parity check of a trained B2Inst-YOLACT: its reference scores were off
    # by up to 0.02 while the exported graph was right).
    torch.manual_seed(0)
    masks = torch.rand(32, 32, 4)
    rois = torch.tensor([[0, 2., 3, 20, 25], [1, 5, 5, 30, 18],
                         [2, 0, 0, 31, 31], [3, 10, 12, 14, 15]])
    view = masks.permute(2, 0, 1)[:, None]
    assert not view.is_contiguous()
    expected = roi_align(view.contiguous(), rois, 28, 1.0, 0, True)
    assert torch.equal(roi_align(view, rois, 28, 1.0, 0, True), expected)
    # and each instance is pooled from its own mask
    for i in range(4):
        own = roi_align(masks[None, None, :, :, i],
                        rois[i:i + 1] * torch.tensor([0., 1, 1, 1, 1]), 28,
                        1.0, 0, True)
        assert torch.allclose(expected[i], own[0])


def _rois(num, size, batch, seed):
    # boxes from sub-pixel to larger than the map, some partly or wholly
    # outside it, some degenerate (zero width or height)
    gen = torch.Generator().manual_seed(seed)
    wh = torch.exp(torch.empty(num, 2).uniform_(-1., 6., generator=gen))
    xy = torch.empty(num, 2).uniform_(-30., size + 10., generator=gen)
    rois = torch.cat([
        torch.randint(0, batch, (num, 1), generator=gen).float(), xy, xy + wh
    ], 1)
    rois[0, 3] = rois[0, 1]  # zero width
    rois[1, 4] = rois[1, 2]  # zero height
    return rois


@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 1, 2])
@pytest.mark.parametrize('stride', [1, 8, 32])
def test_gather_roi_align_equals_mmcv(aligned, sampling_ratio, stride):
    # mmcv's RoIAlign, the upstream module, to float rounding: every sample
    # position, border rule and the adaptive samples per bin.
    torch.manual_seed(stride)
    size = 160
    features = torch.randn(2, 5, size // stride + 1, size // stride + 3)
    rois = _rois(60, size, 2, stride)
    layer = RoIAlign((7, 5), 1. / stride, sampling_ratio, 'avg', aligned)
    expected = layer(features, rois)
    got = gather_roi_align(features, rois, (7, 5), 1. / stride, sampling_ratio,
                           aligned)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() < 1e-5
    assert expected.abs().sum() > 0


def test_gather_roi_align_gradient_equals_mmcv():
    torch.manual_seed(0)
    features = torch.randn(2, 3, 12, 10, requires_grad=True)
    rois = _rois(20, 80, 2, 1)
    grad_out = torch.randn(20, 3, 4, 4)
    layer = RoIAlign(4, 1. / 8, 0, 'avg', True)
    expected, = torch.autograd.grad((layer(features, rois) * grad_out).sum(),
                                    features)
    got, = torch.autograd.grad(
        (gather_roi_align(features, rois, 4, 1. / 8) * grad_out).sum(),
        features)
    assert (got - expected).abs().max() < 1e-5


def test_gather_roi_align_of_nothing():
    features = torch.randn(1, 4, 8, 8)
    assert gather_roi_align(features, torch.zeros(0, 5), 3,
                            1.).shape == (0, 4, 3, 3)


def test_gather_roi_align_of_fpn_levels_equals_single_roi_extractor():
    # Every level in one call, each RoI from the level mmdet's
    # SingleRoIExtractor maps it to: its output to float rounding.
    from mmdet.registry import MODELS
    extractor = MODELS.build(
        dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=6,
            featmap_strides=[8, 16, 32]))
    torch.manual_seed(0)
    feats = [torch.randn(2, 6, 400 // s, 352 // s) for s in (8, 16, 32)]
    rois = _rois(80, 360, 2, 3) * torch.tensor([1., 2, 2, 2, 2])
    levels = extractor.map_roi_levels(rois, 3)
    assert len(set(levels.tolist())) == 3
    expected = extractor(feats, rois)
    got = gather_roi_align(
        feats, rois, 14, [1 / 8, 1 / 16, 1 / 32], levels=levels)
    assert (got - expected).abs().max() < 1e-5
    with pytest.raises(ValueError, match='levels'):
        gather_roi_align(feats, rois, 14, [1 / 8, 1 / 16, 1 / 32])
