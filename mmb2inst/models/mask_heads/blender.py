"""BlendMask's blender and the pieces around it, as pure tensor functions.

The blender (Chen et al., CVPR 2020, §3.3) turns the bases of an image and
one attention map per instance into the instance's mask logits:

1. the bases are RoI-aligned with the instance's box to ``R x R``;
2. the instance's ``K x M x M`` attention is resized to ``R x R`` and
   softmaxed over the K bases;
3. the mask logits are ``sum_k(bases_k * attention_k)``.

:func:`semantic_targets` derives the targets of BlendMask's auxiliary
semantic-segmentation loss from instance masks, and :func:`paste_masks`
pastes ``R x R`` RoI masks into an image.
"""
from typing import Tuple

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


def semantic_targets(masks: Tensor, labels: Tensor, num_classes: int,
                     size: Tuple[int, int]) -> Tensor:
    """Per-pixel class targets of an image from its instance masks.

    Masks are resampled to ``size`` (bilinear, > 0.5); where instances
    overlap the smallest one wins (small objects are usually in front).
    Pixels of no instance get the background index ``num_classes``.

    Args:
        masks (Tensor): ``(N, H, W)`` binary instance masks.
        labels (Tensor): ``(N, )`` classes in ``[0, num_classes)``.
        num_classes (int): Number of thing classes.
        size (tuple): ``(h, w)`` of the targets.

    Returns:
        Tensor: ``(h, w)`` int64.
    """
    targets = labels.new_full(size, num_classes, dtype=torch.long)
    if masks.shape[0] == 0:
        return targets
    masks = F.interpolate(
        masks[None].float(), size, mode='bilinear',
        align_corners=False)[0] > 0.5
    # Paint the largest first so that smaller instances end up on top.
    order = masks.flatten(1).sum(1).argsort(descending=True, stable=True)
    for i in order.tolist():
        targets[masks[i]] = int(labels[i])
    return targets


def paste_masks(masks: Tensor, boxes: Tensor, height: int,
                width: int) -> Tensor:
    """Paste RoI masks (probabilities) into an ``height x width`` image.

    One instance at a time around its box on CPU (memory bounded by the
    largest box), all at once on GPU, as mmdet's ``FCNMaskHead``.

    Args:
        masks (Tensor): ``(N, R, R)`` mask probabilities.
        boxes (Tensor): ``(N, 4)`` boxes in the output image's pixels.

    Returns:
        Tensor: ``(N, height, width)`` float probabilities.
    """
    out = masks.new_zeros((masks.shape[0], height, width))
    if masks.shape[0] == 0:
        return out
    if masks.device.type != 'cpu':
        pasted, _ = _do_paste_mask(
            masks[:, None], boxes, height, width, skip_empty=False)
        return pasted
    for i in range(masks.shape[0]):
        pasted, region = _do_paste_mask(
            masks[i:i + 1, None],
            boxes[i:i + 1],
            height,
            width,
            skip_empty=True)
        out[(i, ) + region] = pasted[0]
    return out
