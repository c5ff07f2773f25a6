# Copyright (c) mmb2inst contributors. All rights reserved.
"""Ground-truth mask targets from mmdet's mask structures.

``BitmapMasks`` (the toy pipelines) and ``PolygonMasks`` (COCO pipelines,
``poly2mask=False``) take different box and index types in
``crop_and_resize``: polygons need NumPy boxes and indices, bitmaps accept
both. These helpers hand both NumPy and return tensors on the requested
device, so the heads never meet the difference (nor a CUDA tensor where
NumPy is needed).
"""
from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def box_crops(gt_masks, gt_boxes: Tensor, size, device=None) -> Tensor:
    """Each GT mask cropped to its own box and resized, once per instance.

    Heads index the result by their positives' matched GT (as AdelaiDet's
    BlendMask does) instead of re-rasterising a polygon per positive.

    Args:
        gt_masks (BitmapMasks | PolygonMasks): ``G`` instance masks.
        gt_boxes (Tensor): ``(G, 4)`` boxes ``(x1, y1, x2, y2)`` in the
            masks' pixels (a tensor or an mmdet box structure).
        size (int | tuple[int, int]): Output ``(R_h, R_w)``.
        device: Device of the result. Defaults to ``gt_boxes``'s.

    Returns:
        Tensor: ``(G, R_h, R_w)`` float32 in {0, 1}.
    """
    boxes = getattr(gt_boxes, 'tensor', gt_boxes)
    device = boxes.device if device is None else device
    size = (size, size) if isinstance(size, int) else tuple(size)
    num = len(boxes)
    if num == 0:
        return torch.zeros((0, ) + size, device=device)
    boxes = boxes.detach().float().cpu().numpy()
    crops = gt_masks.crop_and_resize(
        boxes, size, np.arange(num), device=device)
    return crops.to_tensor(dtype=torch.float32, device=device)


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
