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
    if torch.onnx.is_in_onnx_export():
        return _OnnxRoIAlign.apply(features, rois.to(features.dtype), size,
                                   float(spatial_scale), int(sampling_ratio),
                                   bool(aligned))
    dtype = features.dtype
    compute = torch.float32 if dtype == torch.bfloat16 else dtype
    # mmcv's kernel reads the memory as contiguous: a permuted view (e.g.
    # YOLACT's (h, w, N) masks as (N, 1, h, w)) would pool the wrong pixels.
    out = _roi_align(
        features.to(compute).contiguous(), rois.to(compute), size,
        spatial_scale, sampling_ratio, 'avg', aligned)
    return out.to(dtype)


def fill_first_bases(state_dict: dict, key: str, param: Tensor, groups: int,
                     num: int) -> bool:
    """Load a layer made for ``num - 1`` bases into one for ``num``.

    ``param``'s output channels are ``groups`` blocks of ``num`` equal
    slices, one per basis (YOLACT: per anchor, one coefficient each;
    BlendMask: one block of ``M * M`` attention channels per basis). If
    ``state_dict[key]`` has the same layout with ``num - 1`` slices per
    block, it is replaced, in place, by ``param`` with the first ``num - 1``
    slices of every block taken from it (the last, the boundary basis,
    keeps ``param``'s values).

    Returns:
        bool: Whether ``state_dict[key]`` was replaced.
    """
    given = state_dict.get(key)
    if given is None or given.shape[1:] != param.shape[1:] or \
            given.shape[0] * num != param.shape[0] * (num - 1):
        return False
    merged = param.detach().clone().view(groups, num, -1)
    merged[:, :num - 1] = given.to(param).view(groups, num - 1, -1)
    state_dict[key] = merged.view_as(param)
    return True


def with_defaults(given, default: dict) -> dict:
    """``given`` merged over ``default``, recursively.

    The configs rely on the defaults of nested sub-configs (the boundary
    loss of ``BoundaryBasis``, the RoI extractor and losses of the scorer),
    so an override such as ``--cfg-options
    model.mask_head.boundary.loss_boundary.loss_weight=0`` arrives as a
    partial dict without ``type``; it is completed from the default instead
    of failing to build.
    """
    out = copy.deepcopy(dict(default))
    for key, value in dict(given or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            value = with_defaults(value, out[key])
        out[key] = value
    return out


class _OnnxRoIAlign(torch.autograd.Function):
    """mmcv's RoIAlign, exported as ONNX's opset-16 ``RoiAlign`` with the
    coordinate transformation that equals ``aligned=True``
    (``half_pixel``). mmcv's own symbolic shifts the boxes and calls the
    opset-10 op, which clamps RoIs to at least one feature pixel, unlike
    mmcv's aligned kernel."""

    @staticmethod
    def forward(ctx, features, rois, size, spatial_scale, sampling_ratio,
                aligned):
        return _roi_align(features, rois, size, spatial_scale, sampling_ratio,
                          'avg', aligned)

    @staticmethod
    def symbolic(g, features, rois, size, spatial_scale, sampling_ratio,
                 aligned):
        batch = g.op(
            'Gather',
            rois,
            g.op('Constant', value_t=torch.tensor(0, dtype=torch.long)),
            axis_i=1)
        batch = g.op('Cast', batch, to_i=7)  # int64
        boxes = g.op(
            'Gather',
            rois,
            g.op('Constant', value_t=torch.tensor([1, 2, 3, 4])),
            axis_i=1)
        return g.op(
            'RoiAlign',
            features,
            boxes,
            batch,
            coordinate_transformation_mode_s='half_pixel'
            if aligned else 'output_half_pixel',
            mode_s='avg',
            output_height_i=size[0],
            output_width_i=size[1],
            sampling_ratio_i=sampling_ratio,
            spatial_scale_f=spatial_scale)
