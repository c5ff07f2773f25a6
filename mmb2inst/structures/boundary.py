# Copyright (c) mmb2inst contributors. All rights reserved.
"""Mask boundaries and the boundary-aware mask scores of B2Inst.

One implementation of each idea of the paper's §4, shared by the boundary
basis head (holistic boundary targets), the mask scorer (IoU and boundary
targets, Eq. (2) at inference) and the evaluation code:

- :func:`laplacian_boundary`: the 3x3 Laplacian boundary of binary masks.
- :func:`image_boundary_map`: the holistic, image-level boundary target
  (§4.1), merged per instance so that touching instances keep the boundary
  they share.
- :func:`pool_boundary_map`: a boundary map brought to a coarser feature
  map without losing thin structures (a cell is boundary when any of its
  pixels is).
- :func:`boundary_dice`: :math:`S_{boundary}`, Eq. (1).
- :func:`mask_iou`: :math:`S_{IoU}`, the Mask Scoring R-CNN target.
- :func:`rescore`: :math:`S_{mask}`, Eq. (2).

All functions are pure tensor code, vectorised over instances, running on
the device of their input; none of them is differentiable (boundaries are
binary).
"""
import math
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

# Instances are processed in chunks of at most this many pixels, so that the
# int8 temporaries of a chunk stay around 16 MB each whatever the number of
# instances (COCO: ~100 instances at 800x1088 would be ~90 MB per copy).
_CHUNK_PIXELS = 1 << 24


def _binarize(masks: Tensor, thr: float = 0.5) -> Tensor:
    """Turn masks of any dtype into a bool tensor.

    Floating-point masks are foreground where ``>= thr`` (the convention of
    mmdet's ``FCNMaskHead``); bool and integer masks where non-zero.
    """
    if masks.dtype == torch.bool:
        return masks
    if masks.is_floating_point():
        return masks >= thr
    return masks != 0


def _laplacian(masks: Tensor) -> Tensor:
    """Exact 3x3 Laplacian of binary masks with zero padding.

    Args:
        masks (Tensor): Bool masks of shape (N, H, W).

    Returns:
        Tensor: int8 tensor of shape (N, H, W) holding
        ``8 * m - sum(8-neighbours of m)``, in [-8, 8].
    """
    # 8 * m - sum(neighbours) == 9 * m - sum(3x3 box); the box sum is done
    # separably with shifted slices in int8, which is exact, four times
    # smaller than float32 and faster than F.conv2d on CPU. (In float32 when
    # exporting to ONNX, whose runtimes add no int8.)
    dtype = torch.float32 if torch.onnx.is_in_onnx_export() else torch.int8
    padded = F.pad(masks.to(dtype), (1, 1, 1, 1))
    rows = padded[:, :, :-2] + padded[:, :, 1:-1] + padded[:, :, 2:]
    box = rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]
    return 9 * padded[:, 1:-1, 1:-1] - box


def _int_threshold(threshold: float) -> int:
    """An int ``t`` with ``lap > t`` iff ``lap > threshold`` for int lap."""
    # Comparing int8 to an int scalar avoids a float promotion of the whole
    # tensor; the clamp keeps the scalar inside int8 (|lap| <= 8).
    return math.floor(min(max(threshold, -9.), 8.))


def _chunks(num: int, height: int, width: int):
    """Yield ``(start, end)`` instance ranges of bounded pixel count."""
    step = max(1, _CHUNK_PIXELS // max(1, height * width))
    for start in range(0, num, step):
        yield start, min(num, start + step)


def laplacian_boundary(masks: Tensor, threshold: float = 0.) -> Tensor:
    """Binary boundaries of binary masks by a 3x3 Laplacian kernel.

    The kernel ``[[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]`` is applied to
    the binarised masks with zero padding and the response is thresholded:
    ``boundary = laplacian > threshold``. With the default threshold of 0
    this is "a mask pixel with at least one of its 8 neighbours outside the
    mask", where pixels beyond the image count as outside, so a mask that
    touches the image border has a boundary along it.

    Args:
        masks (Tensor): Masks of shape (N, H, W) or (H, W); bool, integer
            (non-zero is foreground) or floating point (``>= 0.5`` is
            foreground).
        threshold (float): The Laplacian response must exceed this value.
            Defaults to 0., as in B2Inst §4.1.

    Returns:
        Tensor: float32 tensor of the input's shape and device with 1. on
        boundary pixels and 0. elsewhere.
    """
    if masks.dim() == 2:
        return laplacian_boundary(masks[None], threshold)[0]
    if masks.dim() != 3:
        raise ValueError('masks must have shape (N, H, W) or (H, W), got '
                         f'{tuple(masks.shape)}')
    num, height, width = masks.shape
    thr = _int_threshold(threshold)
    if torch.onnx.is_in_onnx_export():
        # No chunks: their Python bounds would be frozen into the graph.
        return (_laplacian(_binarize(masks)) > thr).float()
    boundaries = masks.new_zeros((num, height, width), dtype=torch.float32)
    for start, end in _chunks(num, height, width):
        lap = _laplacian(_binarize(masks[start:end]))
        boundaries[start:end] = lap > thr
    return boundaries


def image_boundary_map(masks,
                       out_shape: Optional[Sequence[int]] = None,
                       device: Union[str, torch.device, None] = None,
                       threshold: float = 0.) -> Tensor:
    """The holistic (image-level) boundary ground truth of B2Inst.

    Each instance's Laplacian boundary is computed on its own and the
    boundaries are merged with a max over instances. The boundary shared by
    two touching instances therefore survives, which it would not in the
    Laplacian of the union of the masks.

    Args:
        masks (Tensor | np.ndarray | BitmapMasks | PolygonMasks): Instance
            masks of shape (N, H, W). mmdet mask structures are rasterised
            with their own ``to_tensor``.
        out_shape (Sequence[int], optional): (H_out, W_out) of the result,
            at least (H, W). The map is zero-padded at the bottom and right,
            as mmdet pads images and masks; since the Laplacian uses zero
            padding this equals the boundary of the padded masks. Defaults
            to (H, W).
        device (str | torch.device, optional): Device of the result.
            Defaults to the device of a tensor input, else CPU.
        threshold (float): See :func:`laplacian_boundary`. Defaults to 0.

    Returns:
        Tensor: float32 map of shape (H_out, W_out), 1. on boundary pixels
        of any instance. All zeros when there is no instance.
    """
    if isinstance(masks, np.ndarray):
        masks = torch.from_numpy(masks)
    if isinstance(masks, Tensor):
        if masks.dim() != 3:
            raise ValueError('masks must have shape (N, H, W), got '
                             f'{tuple(masks.shape)}')
        if device is not None:
            masks = masks.to(device)
    else:
        # Imported here so that the tensor path needs no mmcv.
        from mmdet.structures.mask import BaseInstanceMasks
        if not isinstance(masks, BaseInstanceMasks):
            raise TypeError('masks must be a Tensor, an ndarray or mmdet '
                            f'instance masks, got {type(masks)}')
        # uint8 rather than bool: PolygonMasks builds the tensor from a
        # uint8 ndarray and BitmapMasks may hold 0/1 or 0/255.
        masks = masks.to_tensor(dtype=torch.uint8, device=device or 'cpu')
    num, height, width = masks.shape
    out_h, out_w = (height, width) if out_shape is None else out_shape[:2]
    if out_h < height or out_w < width:
        raise ValueError(f'out_shape {(out_h, out_w)} is smaller than the '
                         f'masks {(height, width)}')
    thr = _int_threshold(threshold)
    merged = masks.new_zeros((height, width), dtype=torch.bool)
    for start, end in _chunks(num, height, width):
        lap = _laplacian(_binarize(masks[start:end]))
        # max over instances, then threshold: same as thresholding each
        # instance and merging with any(), with one comparison per pixel.
        merged |= lap.amax(dim=0) > thr
    return F.pad(merged.float(), (0, out_w - width, 0, out_h - height))


def pool_boundary_map(boundary: Tensor, size: Sequence[int]) -> Tensor:
    """A binary boundary map at a coarser resolution, without aliasing.

    Each output cell is 1 when any pixel of the input it covers is a
    boundary pixel (adaptive max pooling; cells cover ``ceil`` ranges, so no
    input pixel is skipped when the sizes do not divide), so structures
    thinner than a cell keep their boundary.

    Args:
        boundary (Tensor): ``(H, W)`` or ``(N, H, W)`` binary maps.
        size (Sequence[int]): ``(h, w)`` of the result, at most ``(H, W)``.

    Returns:
        Tensor: float32 ``(h, w)`` or ``(N, h, w)`` in {0, 1}.
    """
    if boundary.dim() == 2:
        return pool_boundary_map(boundary[None], size)[0]
    h, w = int(size[0]), int(size[1])
    if h > boundary.shape[-2] or w > boundary.shape[-1]:
        raise ValueError(f'size {(h, w)} is larger than the boundary map '
                         f'{tuple(boundary.shape[-2:])}')
    if boundary.shape[0] == 0:
        return boundary.new_zeros((0, h, w), dtype=torch.float32)
    return F.adaptive_max_pool2d(boundary[:, None].float(), (h, w))[:, 0]


def boundary_dice(pred_masks: Tensor,
                  gt_masks: Tensor,
                  eps: float = 1.,
                  thr: float = 0.5) -> Tensor:
    r"""Boundary score :math:`S_{boundary}` of B2Inst, Eq. (1).

    .. math::
        S = \frac{2 \sum_i B_p^i B_g^i + \epsilon}
                  {\sum_i (B_p^i)^2 + \sum_i (B_g^i)^2 + \epsilon}

    with :math:`B_p`, :math:`B_g` the :func:`laplacian_boundary` of the
    predicted and ground-truth masks.

    Args:
        pred_masks (Tensor): Predicted masks of shape (N, h, w). Floating
            point masks (probabilities) are binarised at ``thr`` before the
            Laplacian; bool or integer masks are used as they are.
        gt_masks (Tensor): Ground-truth masks of shape (N, h, w); bool,
            integer or floating point (``>= 0.5`` is foreground).
        eps (float): The soft term of Eq. (1). Defaults to 1.
        thr (float): Binarisation threshold of floating-point
            ``pred_masks``, inclusive. Defaults to 0.5.

    Returns:
        Tensor: float32 scores of shape (N,) in (0, 1]. Identical masks and
        two empty masks score exactly 1.
    """
    if pred_masks.shape != gt_masks.shape:
        raise ValueError(f'shape mismatch: {tuple(pred_masks.shape)} vs '
                         f'{tuple(gt_masks.shape)}')
    pred_bd = laplacian_boundary(_binarize(pred_masks, thr))
    gt_bd = laplacian_boundary(gt_masks)
    # Boundaries are 0/1, so B^2 == B.
    inter = (pred_bd * gt_bd).sum((-2, -1))
    total = pred_bd.sum((-2, -1)) + gt_bd.sum((-2, -1))
    return (2 * inter + eps) / (total + eps)


def mask_iou(pred_masks: Tensor,
             gt_masks: Tensor,
             thr: float = 0.5,
             eps: float = 1e-6) -> Tensor:
    """Binary mask IoU :math:`S_{IoU}` per instance.

    Two empty masks give 0, not a perfect match.

    Args:
        pred_masks (Tensor): Predicted masks of shape (N, h, w), binarised
            like in :func:`boundary_dice`.
        gt_masks (Tensor): Ground-truth masks of shape (N, h, w).
        thr (float): Binarisation threshold of floating-point
            ``pred_masks``, inclusive. Defaults to 0.5.
        eps (float): Lower bound of the union. Unions are pixel counts, so
            any ``eps <= 1`` only matters for empty pairs. Defaults to 1e-6.

    Returns:
        Tensor: float32 IoUs of shape (N,) in [0, 1].
    """
    if pred_masks.shape != gt_masks.shape:
        raise ValueError(f'shape mismatch: {tuple(pred_masks.shape)} vs '
                         f'{tuple(gt_masks.shape)}')
    pred = _binarize(pred_masks, thr)
    gt = _binarize(gt_masks)
    inter = (pred & gt).sum((-2, -1)).float()
    union = (pred | gt).sum((-2, -1)).float()
    return inter / union.clamp(min=eps)


def rescore(cls_scores: Tensor,
            iou_scores: Optional[Tensor] = None,
            boundary_scores: Optional[Tensor] = None) -> Tensor:
    """Mask confidence :math:`S_{mask}` of B2Inst, Eq. (2).

    - both scores: ``cls * sqrt(iou * boundary)`` (B2Inst, Eq. (2));
    - only ``iou_scores``: ``cls * iou`` (Mask Scoring R-CNN, "MS");
    - only ``boundary_scores``: ``cls * boundary`` ("BS");
    - neither: ``cls``.

    The scores are clamped to [0, 1] first. Computed in float32 whatever
    the inputs' dtype (half-precision scores under autocast).

    Args:
        cls_scores (Tensor): Classification scores of shape (N,).
        iou_scores (Tensor, optional): Predicted mask IoUs of shape (N,).
        boundary_scores (Tensor, optional): Predicted boundary scores of
            shape (N,).

    Returns:
        Tensor: float32 mask scores of shape (N,).
    """
    cls_scores = cls_scores.float()
    if iou_scores is not None:
        iou_scores = iou_scores.float().clamp(0, 1)
    if boundary_scores is not None:
        boundary_scores = boundary_scores.float().clamp(0, 1)
    if iou_scores is not None and boundary_scores is not None:
        return cls_scores * torch.sqrt(iou_scores * boundary_scores)
    if iou_scores is not None:
        return cls_scores * iou_scores
    if boundary_scores is not None:
        return cls_scores * boundary_scores
    return cls_scores
