"""Small pieces the heads share."""
import copy

import torch
from mmcv.ops import roi_align as _roi_align
from torch import Tensor


def roi_align(features: Tensor,
              rois: Tensor,
              size,
              spatial_scale: float,
              sampling_ratio: int = 0,
              aligned: bool = True) -> Tensor:
    """mmcv's RoIAlign (average pooling) in the features' dtype.

    The RoIs are cast to the features' dtype, as mmcv requires (under
    autocast the features may be float16 while boxes stay float32).
    bfloat16 features, which mmcv has no kernel for, are pooled in float32
    and the result cast back.

    Args:
        features (Tensor): ``(B, C, H, W)``.
        rois (Tensor): ``(N, 5)`` ``[batch_idx, x1, y1, x2, y2]``.
        size (int | tuple[int, int]): Output size.
        spatial_scale (float): ``1 / stride`` of ``features``.
        sampling_ratio (int): Samples per bin (0: adaptive).
        aligned (bool): Half-pixel aligned boxes. Defaults to True.

    Returns:
        Tensor: ``(N, C, *size)`` in ``features.dtype``.
    """
    size = (size, size) if isinstance(size, int) else tuple(size)
    dtype = features.dtype
    compute = torch.float32 if dtype == torch.bfloat16 else dtype
    out = _roi_align(
        features.to(compute), rois.to(compute), size, spatial_scale,
        sampling_ratio, 'avg', aligned)
    return out.to(dtype)


def with_defaults(given, default: dict) -> dict:
    """``given`` merged over ``default``, recursively.

    The configs rely on the defaults of nested sub-configs (the boundary
    loss of ``BoundaryBasis``, the RoI extractor and losses of the scorer),
    so an override such as ``--cfg-options
    model.mask_head.boundary.loss_boundary.crisp_weight=0`` arrives as a
    partial dict without ``type``; it is completed from the default instead
    of failing to build.
    """
    out = copy.deepcopy(dict(default))
    for key, value in dict(given or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            value = with_defaults(value, out[key])
        out[key] = value
    return out
