# Copyright (c) mmb2inst contributors. All rights reserved.
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mmb2inst.structures.boundary as boundary_module
from mmb2inst.structures import (boundary_dice, image_boundary_map,
                                 laplacian_boundary, mask_iou,
                                 pool_boundary_map, rescore)


def _box(height, width, top, left, bottom, right):
    """A (H, W) bool mask, True on rows top..bottom, cols left..right."""
    mask = torch.zeros(height, width, dtype=torch.bool)
    mask[top:bottom + 1, left:right + 1] = True
    return mask


def _reference_laplacian(masks, threshold=0.):
    """The definition: Laplacian conv2d with zero padding, thresholded."""
    kernel = torch.full((1, 1, 3, 3), -1.)
    kernel[0, 0, 1, 1] = 8.
    lap = F.conv2d(masks[:, None].float(), kernel, padding=1)[:, 0]
    return (lap > threshold).float()


def test_square_boundary_is_its_perimeter():
    square = _box(8, 8, 2, 2, 5, 5)
    expected = [
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 1, 1, 1, 1, 0, 0],
        [0, 0, 1, 0, 0, 1, 0, 0],
        [0, 0, 1, 0, 0, 1, 0, 0],
        [0, 0, 1, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0],
    ]
    expected = torch.tensor(expected, dtype=torch.float32)
    out = laplacian_boundary(square[None])
    assert out.shape == (1, 8, 8) and out.dtype == torch.float32
    assert torch.equal(out[0], expected)
    assert out.sum() == 12
    # (H, W) input gives an (H, W) result; uint8 and float give the same.
    assert torch.equal(laplacian_boundary(square), expected)
    assert torch.equal(laplacian_boundary(square.to(torch.uint8)), expected)
    assert torch.equal(laplacian_boundary(square.float()), expected)


def test_touching_instances_keep_their_shared_boundary():
    left = _box(8, 10, 2, 1, 5, 4)
    right = _box(8, 10, 2, 5, 5, 8)
    holistic = image_boundary_map(torch.stack([left, right]))
    assert holistic.shape == (8, 10)
    # Both full perimeters, including the shared edge columns 4 and 5.
    expected = torch.maximum(
        laplacian_boundary(left), laplacian_boundary(right))
    assert torch.equal(holistic, expected)
    assert holistic.sum() == 24
    assert holistic[2:6, 4].sum() == 4 and holistic[2:6, 5].sum() == 4

    # The union is a 4x8 rectangle whose perimeter has 2 * 8 + 2 * 2 = 20
    # pixels: the inner rows 3-4 of the shared columns 4-5 are lost.
    union = laplacian_boundary(left | right)
    assert union.sum() == 20
    lost = torch.zeros(8, 10)
    lost[3:5, 4:6] = 1
    assert torch.equal(holistic - union, lost)


def test_ring_has_outer_and_inner_contours():
    # A 9x9 square with a 3x3 hole: the ring is 3 pixels thick, so its
    # middle layer is neither contour.
    ring = _box(11, 11, 1, 1, 9, 9) & ~_box(11, 11, 4, 4, 6, 6)
    outer = _box(11, 11, 1, 1, 9, 9) & ~_box(11, 11, 2, 2, 8, 8)
    inner = _box(11, 11, 3, 3, 7, 7) & ~_box(11, 11, 4, 4, 6, 6)
    out = laplacian_boundary(ring)
    assert torch.equal(out, (outer | inner).float())
    assert outer.sum() == 32 and inner.sum() == 16 and out.sum() == 48
    assert out[2, 2] == 0 and out[5, 5] == 0


def test_mask_on_image_border_has_border_boundary():
    # Zero padding: the image border counts as outside the mask.
    top = _box(5, 5, 0, 0, 2, 4)
    expected = [
        [1, 1, 1, 1, 1],
        [1, 0, 0, 0, 1],
        [1, 1, 1, 1, 1],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
    ]
    expected = torch.tensor(expected, dtype=torch.float32)
    assert torch.equal(laplacian_boundary(top), expected)
    full = laplacian_boundary(torch.ones(4, 6, dtype=torch.bool))
    frame = torch.ones(4, 6)
    frame[1:3, 1:5] = 0
    assert torch.equal(full, frame)


def test_empty_inputs():
    assert torch.equal(
        laplacian_boundary(torch.zeros(2, 5, 7, dtype=torch.bool)),
        torch.zeros(2, 5, 7))
    assert laplacian_boundary(torch.zeros(0, 5, 7)).shape == (0, 5, 7)
    empty_map = image_boundary_map(torch.zeros(0, 5, 7, dtype=torch.bool))
    assert empty_map.shape == (5, 7) and empty_map.sum() == 0
    padded = image_boundary_map(
        torch.zeros(0, 5, 7, dtype=torch.bool), out_shape=(8, 9))
    assert padded.shape == (8, 9) and padded.sum() == 0
    assert image_boundary_map(np.zeros((3, 4, 4), np.uint8)).sum() == 0


@pytest.mark.parametrize('threshold', [0., 0.5, -1.5, 2.5, 7.5, -20., 8.])
def test_laplacian_boundary_equals_conv2d_reference(threshold, monkeypatch):
    generator = torch.Generator().manual_seed(0)
    for num, height, width in [(1, 1, 1), (2, 1, 7), (3, 5, 3), (5, 8, 8),
                               (4, 13, 17)]:
        for density in (0.2, 0.5, 0.9):
            masks = torch.rand(
                num, height, width, generator=generator) < density
            expected = _reference_laplacian(masks, threshold)
            for dtype in (torch.bool, torch.uint8, torch.float32):
                out = laplacian_boundary(masks.to(dtype), threshold)
                assert torch.equal(out, expected)
    # Chunks of fewer instances than N give the same result.
    masks = torch.rand(5, 13, 17, generator=generator) < 0.5
    monkeypatch.setattr(boundary_module, '_CHUNK_PIXELS', 2 * 13 * 17)
    assert torch.equal(
        laplacian_boundary(masks, threshold),
        _reference_laplacian(masks, threshold))
    assert torch.equal(
        image_boundary_map(masks, threshold=threshold),
        _reference_laplacian(masks, threshold).amax(0))


def test_image_boundary_map_pads_to_out_shape():
    masks = torch.stack([_box(6, 7, 0, 0, 2, 3), _box(6, 7, 3, 4, 5, 6)])
    out = image_boundary_map(masks, out_shape=(9, 10))
    assert out.shape == (9, 10)
    assert torch.equal(out[:6, :7], image_boundary_map(masks))
    assert out[6:].sum() == 0 and out[:, 7:].sum() == 0
    # Padding the masks first gives the same map (zero padding).
    padded_masks = F.pad(masks, (0, 3, 0, 3))
    assert torch.equal(out, image_boundary_map(padded_masks))
    with pytest.raises(ValueError):
        image_boundary_map(masks, out_shape=(5, 7))


def test_mmdet_mask_structures_match_the_tensor_path():
    from mmdet.structures.mask import BitmapMasks, PolygonMasks

    height, width = 20, 24
    # A triangle, a square and an L-shape; the square touches the triangle.
    polygons = [
        [np.array([2., 2., 12., 2., 2., 14.])],
        [np.array([12., 4., 20., 4., 20., 12., 12., 12.])],
        [np.array([3., 15., 10., 15., 10., 17., 5., 17., 5., 19., 3., 19.])],
    ]
    poly_masks = PolygonMasks(polygons, height, width)
    raster = poly_masks.to_ndarray()
    assert raster.shape == (3, height, width) and raster.sum() > 0
    expected = image_boundary_map(torch.from_numpy(raster))
    assert expected.sum() > 0
    assert torch.equal(expected,
                       laplacian_boundary(torch.from_numpy(raster)).amax(0))

    assert torch.equal(image_boundary_map(poly_masks), expected)
    bitmap_masks = BitmapMasks(raster, height, width)
    assert torch.equal(image_boundary_map(bitmap_masks), expected)
    assert torch.equal(
        image_boundary_map(bitmap_masks, device='cpu', out_shape=(22, 25)),
        F.pad(expected, (0, 1, 0, 2)))

    # No instance: zeros of the structure's (height, width).
    empty_poly = image_boundary_map(PolygonMasks([], height, width))
    assert empty_poly.shape == (height, width) and empty_poly.sum() == 0
    empty_bitmap = image_boundary_map(
        BitmapMasks(np.zeros((0, height, width), np.uint8), height, width))
    assert empty_bitmap.shape == (height, width) and empty_bitmap.sum() == 0


def test_boundary_dice_hand_values():
    square = _box(10, 10, 3, 3, 6, 6)
    shifted = _box(10, 10, 3, 4, 6, 7)
    empty = torch.zeros(10, 10, dtype=torch.bool)
    pred = torch.stack([square, empty, shifted])
    gt = torch.stack([square, empty, square])
    scores = boundary_dice(pred, gt, eps=1.)
    # Identical: (2 * 12 + 1) / (12 + 12 + 1) = 1. Both empty: 1 / 1.
    # Shifted right by 1 px: each boundary has 12 pixels. They overlap on
    # the top and bottom rows at columns 4-6 (2 x 3 = 6 pixels) and not on
    # the side columns (3, 6 vs 4, 7): (2 * 6 + 1) / (12 + 12 + 1) = 13/25.
    assert scores.shape == (3, )
    assert scores[0] == 1. and scores[1] == 1.
    assert scores[2] == pytest.approx(13 / 25, abs=1e-7)

    no_instance = torch.zeros(0, 4, 4)
    assert boundary_dice(no_instance, no_instance).shape == (0, )


def test_boundary_dice_binarises_probabilities():
    square = _box(10, 10, 3, 3, 6, 6)
    # 0.8 inside, 0.1 outside, and one outside pixel exactly at 0.5, which
    # the inclusive threshold makes foreground.
    prob = square.float() * 0.7 + 0.1
    assert boundary_dice(prob[None], square[None])[0] == 1.
    prob[0, 0] = 0.5
    # The extra isolated pixel is a 1-pixel boundary that the ground truth
    # lacks: (2 * 12 + 1) / (13 + 12 + 1) = 25/26.
    assert boundary_dice(prob[None], square[None])[0] == pytest.approx(
        25 / 26, abs=1e-7)
    # Above every probability: an empty prediction, 1 / (0 + 12 + 1).
    assert boundary_dice(
        prob[None], square[None], thr=0.9)[0] == pytest.approx(
            1 / 13, abs=1e-7)


def test_mask_iou_hand_values():
    square = _box(10, 10, 3, 3, 6, 6)
    shifted = _box(10, 10, 3, 4, 6, 7)
    empty = torch.zeros(10, 10, dtype=torch.bool)
    ious = mask_iou(
        torch.stack([square.float() * 0.9, shifted, empty, square]),
        torch.stack([square, square, empty, empty]))
    # Shifted: overlap 4 x 3 = 12, union 16 + 16 - 12 = 20, IoU 0.6.
    # Both empty: 0 by definition (the Mask Scoring R-CNN target is 0 / 0
    # and is dropped like an IoU of 0). Prediction vs empty gt: 0 / 16.
    assert torch.allclose(ious, torch.tensor([1., 0.6, 0., 0.]))
    no_instance = torch.zeros(0, 3, 3)
    assert mask_iou(no_instance, no_instance).shape == (0, )


def test_rescore_modes_and_clamping():
    cls = torch.tensor([0.8, 0.8])
    iou = torch.tensor([0.5, 0.9])
    bnd = torch.tensor([0.5, 0.4])
    # 0.8 * sqrt(0.25) = 0.4 and 0.8 * sqrt(0.36) = 0.48.
    assert torch.allclose(rescore(cls, iou, bnd), torch.tensor([0.4, 0.48]))
    assert torch.allclose(
        rescore(cls, iou_scores=iou), torch.tensor([0.4, 0.72]))
    assert torch.allclose(
        rescore(cls, boundary_scores=bnd), torch.tensor([0.4, 0.32]))
    assert torch.equal(rescore(cls), cls)
    # Overshooting regressions are clamped to [0, 1].
    high, low = torch.tensor([1.3, 1.3]), torch.tensor([-0.2, 0.25])
    assert torch.allclose(rescore(cls, iou_scores=high), cls)
    assert torch.allclose(
        rescore(cls, boundary_scores=low), torch.tensor([0., 0.2]))
    # sqrt(1 * 0.25) = 0.5; sqrt(1 * 0) = 0.
    assert torch.allclose(rescore(cls, high, low), torch.tensor([0., 0.4]))


# pool_boundary_map: the holistic targets at the map's resolution without
# aliasing (thin parts keep their boundary).
@pytest.mark.parametrize('width', [1, 2, 3])
@pytest.mark.parametrize('offset', range(8))
def test_thin_bars_keep_their_boundary_at_every_offset(width, offset):
    # A vertical bar 1-3 px wide at every sub-pixel position of a stride-4
    # map: every pixel of a bar this thin is a boundary pixel, so exactly
    # the cells the bar overlaps are boundary cells.
    masks = torch.zeros(1, 64, 64)
    x0 = 20 + offset
    masks[0, 8:56, x0:x0 + width] = 1
    pooled = pool_boundary_map(image_boundary_map(masks), (16, 16))
    expected = torch.zeros(16, 16)
    expected[2:14, x0 // 4:(x0 + width - 1) // 4 + 1] = 1
    assert torch.equal(pooled, expected)


def test_pooled_targets_keep_shared_walls_and_holes():
    # Two touching instances: the cells along their shared wall (x = 31|32)
    # are boundary; the interior cells away from every contour are not.
    left = torch.zeros(64, 64)
    left[8:56, 8:32] = 1
    right = torch.zeros(64, 64)
    right[8:56, 32:56] = 1
    pooled = pool_boundary_map(
        image_boundary_map(torch.stack([left, right])), (16, 16))
    assert pooled[3:13, 7:9].all()  # the wall: pixels 28-35
    assert not pooled[4:12, 4:6].any()  # inside the left instance
    union = pool_boundary_map(
        image_boundary_map((left + right)[None]), (16, 16))
    assert not union[4:12, 7:9].any()  # the union has no wall
    # A ring: its hole's contour is there too.
    yy, xx = torch.meshgrid(
        torch.arange(64.), torch.arange(64.), indexing='ij')
    r = ((yy - 32)**2 + (xx - 32)**2).sqrt()
    ring = ((r < 24) & (r >= 10)).float()[None]
    pooled = pool_boundary_map(image_boundary_map(ring), (16, 16))
    assert pooled[8, 5:7].any()  # around the hole's edge at x ~ 22
    assert not pooled[8, 8]  # the hole's centre


def test_pool_boundary_map_sizes():
    boundary = torch.zeros(2, 10, 13)
    boundary[0, 9, 12] = 1  # the last pixel, in a partial cell
    out = pool_boundary_map(boundary, (3, 4))
    assert out.shape == (2, 3, 4) and out.dtype == torch.float32
    assert out[0, 2, 3] == 1 and out.sum() == 1
    assert pool_boundary_map(boundary[0], (10, 13)).equal(boundary[0])
    assert pool_boundary_map(boundary[:0], (3, 4)).shape == (0, 3, 4)
    with pytest.raises(ValueError, match='larger'):
        pool_boundary_map(boundary, (11, 13))
