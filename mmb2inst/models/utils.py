"""Small pieces the heads share."""
import copy
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
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


def _axis_samples(start: Tensor, bin_size: Tensor, grid: Tensor, size: Tensor,
                  pooled: int):
    """RoIAlign's samples along one axis, ``(N, pooled, G, 2)`` each: the two
    neighbouring feature indices of every sample and their bilinear
    weights, divided by the samples per bin and zero for a sample that is
    unused (``G`` is the largest ``grid``) or outside ``[-1, size]``
    (``size``: ``(N,)``, the axis length of each RoI's feature map)."""
    most = max(int(grid.max()), 1)
    bins = torch.arange(pooled, dtype=start.dtype, device=start.device)
    steps = torch.arange(most, dtype=start.dtype, device=start.device)
    per_bin = grid.to(start.dtype).clamp(min=1)
    size = size[:, None, None]
    pos = (
        start[:, None, None] + bins[None, :, None] * bin_size[:, None, None] +
        (steps[None, None, :] + 0.5) * (bin_size / per_bin)[:, None, None])
    valid = (steps[None, None, :] < grid[:, None, None]) & (pos >= -1.) & \
        (pos <= size)
    pos = pos.clamp(min=0)
    low = pos.floor().long()
    last = low >= size - 1
    low = torch.where(last, (size - 1).expand_as(low), low)
    pos = torch.where(last, low.to(pos.dtype), pos)
    high = torch.where(last, low, low + 1)
    frac = pos - low.to(pos.dtype)
    scale = valid.to(pos.dtype) / per_bin[:, None, None]
    return (torch.stack([low, high],
                        -1), torch.stack([(1 - frac) * scale, frac * scale],
                                         -1))


def gather_roi_align(features: Union[Tensor, Sequence[Tensor]],
                     rois: Tensor,
                     size,
                     spatial_scale: Union[float, Sequence[float]],
                     sampling_ratio: int = 0,
                     aligned: bool = True,
                     levels: Optional[Tensor] = None) -> Tensor:
    """mmcv's RoIAlign (average pooling) as one weighted gather of feature
    rows, over one feature map or several (an FPN).

    Every output value is mmcv's: the mean over the bin's samples of the
    bilinear interpolation at each sample, with mmcv's sample positions
    (adaptive ``ceil(roi_size / output_size)`` samples per bin for
    ``sampling_ratio=0``) and border rules. Here the maps are laid out as
    one table of ``C``-channel rows (pixel by pixel) and each output pixel
    is ``F.embedding_bag`` of the rows of its samples' four neighbours,
    weighted: the channels of a row are read together, every RoI of every
    level is pooled in one call, and the work runs on every thread (mmcv's
    CPU kernel is single-threaded and reads one channel plane at a time).
    Equal to mmcv's up to float rounding; differentiable in ``features``.

    Args:
        features (Tensor | Sequence[Tensor]): ``(B, C, H_l, W_l)`` map(s).
        rois (Tensor): ``(N, 5)`` ``[batch_idx, x1, y1, x2, y2]``.
        size (int | tuple[int, int]): Output ``(h, w)``.
        spatial_scale (float | Sequence[float]): ``1 / stride`` of each map.
        sampling_ratio (int): Samples per bin along each axis (0:
            adaptive). Defaults to 0.
        aligned (bool): Half-pixel aligned boxes. Defaults to True.
        levels (Tensor, optional): ``(N,)`` the map each RoI is pooled from
            (mmdet's ``SingleRoIExtractor.map_roi_levels``); needed with
            several maps.

    Returns:
        Tensor: ``(N, C, h, w)`` in the features' dtype, channels-last
        strides.
    """
    if isinstance(features, Tensor):
        features, spatial_scale = [features], [spatial_scale]
    out_h, out_w = (size, size) if isinstance(size, int) else tuple(size)
    batch, channels = features[0].shape[:2]
    num = rois.size(0)
    if num == 0:
        return features[0].new_zeros((0, channels, out_h, out_w))
    device = rois.device
    if levels is None:
        if len(features) > 1:
            raise ValueError('gather_roi_align: with several feature maps, '
                             'give the level of each RoI (levels=...)')
        levels = torch.zeros(num, dtype=torch.long, device=device)
    shapes = torch.tensor([tuple(f.shape[-2:]) for f in features],
                          device=device)
    pixels = shapes.prod(1) * batch
    firsts = torch.cat([pixels.new_zeros(1), pixels[:-1].cumsum(0)])
    height, width = shapes[levels, 0], shapes[levels, 1]
    scale = rois.new_tensor(list(spatial_scale), dtype=torch.float32)[levels]
    rois = rois.float()
    offset = 0.5 if aligned else 0.
    x1 = rois[:, 1] * scale - offset
    y1 = rois[:, 2] * scale - offset
    roi_w = rois[:, 3] * scale - offset - x1
    roi_h = rois[:, 4] * scale - offset - y1
    if not aligned:
        roi_w, roi_h = roi_w.clamp(min=1.), roi_h.clamp(min=1.)
    if sampling_ratio > 0:
        grid_h = grid_w = torch.full((num, ),
                                     sampling_ratio,
                                     dtype=torch.long,
                                     device=device)
    else:
        grid_h = torch.ceil(roi_h / out_h).long()
        grid_w = torch.ceil(roi_w / out_w).long()
    rows, row_w = _axis_samples(y1, roi_h / out_h, grid_h, height, out_h)
    cols, col_w = _axis_samples(x1, roi_w / out_w, grid_w, width, out_w)
    # (N, h, w, G_y, 2, G_x, 2): every sample's four neighbours
    first = firsts[levels] + rois[:, 0].long() * height * width
    rows = first[:, None, None, None] + rows * width[:, None, None, None]
    index = (
        rows[:, :, None, :, :, None, None] +
        cols[:, None, :, None, None, :, :])
    weight = (
        row_w[:, :, None, :, :, None, None] *
        col_w[:, None, :, None, None, :, :])
    # rows of channels (a (B, H, W, C) view of NCHW memory is not one)
    table = torch.cat(
        [f.permute(0, 2, 3, 1).reshape(-1, channels)
         for f in features]) if len(features) > 1 else features[0].permute(
             0, 2, 3, 1).contiguous().view(-1, channels)
    out = F.embedding_bag(
        index.reshape(num * out_h * out_w, -1),
        table,
        per_sample_weights=weight.reshape(num * out_h * out_w,
                                          -1).to(table.dtype),
        mode='sum')
    return out.view(num, out_h, out_w, channels).permute(0, 3, 1, 2)


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
