"""BlendMask's blender and the pieces around it, as pure tensor functions.

The blender (Chen et al., CVPR 2020, §3.3) turns the bases of an image and
one attention map per instance into the instance's mask logits:

1. the bases are RoI-aligned with the instance's box to ``R x R``;
2. the instance's ``K x M x M`` attention is resized to ``R x R`` and
   softmaxed over the K bases;
3. the mask logits are ``sum_k(bases_k * attention_k)``.

:func:`centerness_targets` gives the weights of the blender's loss, and
:func:`paste_masks` pastes ``R x R`` RoI masks into an image.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
from torch import Tensor

from ..utils import roi_align


def pool_bases(bases: Tensor, rois: Tensor, size: int,
               spatial_scale: float) -> Tensor:
    """RoIAlign of the bases, as AdelaiDet's pooler (aligned, 1 sample).

    Args:
        bases (Tensor): ``(B, K, h, w)`` bases of the batch.
        rois (Tensor): ``(N, 5)`` boxes ``[batch_idx, x1, y1, x2, y2]`` in
            network-input pixels.
        size (int): Output resolution ``R``.
        spatial_scale (float): ``1 / stride`` of the bases.

    Returns:
        Tensor: ``(N, K, R, R)``.
    """
    if rois.shape[0] == 0:
        return bases.new_zeros((0, bases.shape[1], size, size))
    return roi_align(bases, rois, size, spatial_scale, 1, True)


def blend(pooled_bases: Tensor, attentions: Tensor) -> Tensor:
    """Combine RoI bases with per-instance attentions.

    Args:
        pooled_bases (Tensor): ``(N, K, R, R)`` bases pooled in each box.
        attentions (Tensor): ``(N, K, M, M)`` attention logits.

    Returns:
        Tensor: ``(N, R, R)`` mask logits.
    """
    num, num_bases, size = pooled_bases.shape[:3]
    if attentions.shape[:2] != (num, num_bases):
        raise ValueError(
            f'blend: {tuple(attentions.shape)} attentions for '
            f'{tuple(pooled_bases.shape)} pooled bases; need one K x M x M '
            'attention per instance, K = number of bases.')
    if num == 0:
        return pooled_bases.new_zeros((0, size, size))
    attentions = F.interpolate(
        attentions, (size, size), mode='bilinear', align_corners=False)
    return (pooled_bases * attentions.softmax(dim=1)).sum(dim=1)


def centerness_targets(points: Tensor, boxes: Tensor) -> Tensor:
    """FCOS centerness of points w.r.t. their boxes, the weights of
    BlendMask's mask loss.

    Args:
        points (Tensor): ``(N, 2)`` locations ``(x, y)``.
        boxes (Tensor): ``(N, 4)`` boxes ``(x1, y1, x2, y2)``.

    Returns:
        Tensor: ``(N, )`` in [0, 1], 0 outside the box.
    """
    left_right = torch.stack(
        [points[:, 0] - boxes[:, 0], boxes[:, 2] - points[:, 0]], 1)
    top_bottom = torch.stack(
        [points[:, 1] - boxes[:, 1], boxes[:, 3] - points[:, 1]], 1)
    left_right = left_right.clamp(min=0)
    top_bottom = top_bottom.clamp(min=0)
    ratio = (left_right.min(1)[0] / left_right.max(1)[0].clamp(min=1e-6)) * (
        top_bottom.min(1)[0] / top_bottom.max(1)[0].clamp(min=1e-6))
    return ratio.sqrt()


def paste_masks(masks: Tensor,
                boxes: Tensor,
                height: int,
                width: int,
                threshold: Optional[float] = None) -> Tensor:
    """Paste RoI masks (probabilities) into an ``height x width`` image.

    One instance at a time around its box on CPU (memory bounded by the
    largest box), all at once on GPU, as mmdet's ``FCNMaskHead`` and
    Detectron2's ``paste_masks_in_image``.

    Args:
        masks (Tensor): ``(N, R, R)`` mask probabilities.
        boxes (Tensor): ``(N, 4)`` boxes in the output image's pixels.
        threshold (float, optional): Binarise at ``>= threshold`` while
            pasting (bool output: no ``(N, height, width)`` float buffer).

    Returns:
        Tensor: ``(N, height, width)`` float probabilities, or bool masks
        with ``threshold``.
    """
    dtype = masks.dtype if threshold is None else torch.bool
    out = masks.new_zeros((masks.shape[0], height, width), dtype=dtype)
    if masks.shape[0] == 0:
        return out
    if masks.device.type != 'cpu':
        pasted, _ = _do_paste_mask(
            masks[:, None], boxes, height, width, skip_empty=False)
        return pasted if threshold is None else pasted >= threshold
    for i in range(masks.shape[0]):
        pasted, region = _do_paste_mask(
            masks[i:i + 1, None],
            boxes[i:i + 1],
            height,
            width,
            skip_empty=True)
        out[(i, ) + region] = pasted[0] if threshold is None else \
            pasted[0] >= threshold
    return out
