"""Small pieces the heads share."""
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
