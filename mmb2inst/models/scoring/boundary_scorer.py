# Copyright (c) mmb2inst contributors. All rights reserved.
"""The boundary-aware mask scoring head of B2Inst (paper §4.2, Table 1).

Mask Scoring R-CNN's ``MaskIoUHead`` regresses the IoU of a predicted mask
with its ground truth from the RoI features and the mask. B2Inst adds the
mask's Laplacian boundary to the input and a second regression branch for
the boundary Dice of Eq. (1); at test time the two scores multiply the
classification score by Eq. (2). The head is host-agnostic: YOLACT's
protonet or BlendMask's blender hand it FPN features, boxes and the
per-instance mask probabilities already resampled to the box, and get
losses or scores back.
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor

from mmb2inst.errors import ConfigError
from mmb2inst.structures import boundary_dice, laplacian_boundary, mask_iou
from ..utils import gather_roi_align, with_defaults

BRANCHES = ('iou', 'boundary')
DEFAULT_ROI_EXTRACTOR = dict(
    type='SingleRoIExtractor',
    roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
    featmap_strides=[8, 16, 32])
# The default loss of each score_output: binary cross-entropy of the
# logits, or Mask Scoring R-CNN's squared error (mmdet's MaskIoUHead).
DEFAULT_LOSSES = dict(
    sigmoid=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.),
    linear=dict(type='MSELoss', loss_weight=0.5))
# Where mmb2inst's configs put this module, for the error messages.
CFG_KEY = 'model.mask_head.scorer'
FRAMES = ('fixed', 'box')
ROI_ALIGNS = ('gather', 'mmcv')


@MODELS.register_module()
class BoundaryAwareScorer(BaseModule):
    r"""Regresses :math:`S_{IoU}` and :math:`S_{boundary}` of each mask.

    Mask Scoring R-CNN's ``MaskIoUHead`` with two inputs and one branch
    more. The input, at the RoI size ``h x w`` of ``roi_extractor`` (14 x 14
    by default), is the concatenation of

    - the RoI-pooled FPN features ``(N, in_channels, h, w)``;
    - the predicted mask probabilities ``(N, 1, h, w)``, max-pooled from
      :attr:`mask_size` (2h x 2w);
    - the Laplacian boundary of the mask binarised at ``mask_thr``
      ``(N, 1, h, w)``, taken at :attr:`mask_size` and max-pooled.

    The mask and its boundary are detached; the RoI features are not. A
    shared stack of ``num_convs`` 3x3 conv + ReLU layers (one of them with
    stride 2) feeds one class-agnostic branch per score (fc + ReLU, fc +
    ReLU, fc -> 1 output). With ``score_output='sigmoid'`` the output is a
    logit, the score its sigmoid, trained with binary cross-entropy; with
    ``'linear'`` (Mask Scoring R-CNN) the output is the score itself,
    trained with a squared error and clamped to [0, 1] at test time. The
    targets are the IoU of the binarised mask with its GT, and the Dice of
    their Laplacian boundaries :math:`B_{pred}, B_{gt}` (Eq. (1)),

    .. math::
        S_{boundary} = \frac{2 \sum_i B_{pred}^i B_{gt}^i + \epsilon}
        {\sum_i (B_{pred}^i)^2 + \sum_i (B_{gt}^i)^2 + \epsilon},

    both computed in the frame of the box the host used (the GT box in
    training). With ``target_frame='fixed'`` that frame is resampled to
    :attr:`mask_size` whatever the box's size; with ``'box'`` each mask and
    its GT are resampled (bilinear) to the box's own height and width in
    network-input pixels, as the paper states Eq. (1), scaled down so that
    the longest side is at most ``max_frame_size``; the mask and boundary
    inputs are then taken in that frame and max-pooled to ``h x w``. Every
    instance with a non-empty GT crop is supervised. At test time the host
    combines them with the class score by Eq. (2),
    :math:`S_{mask} = S_{class} \sqrt{S_{IoU} S_{boundary}}`.

    Args:
        in_channels (int): Channels of the FPN features. Defaults to 256.
        roi_extractor (dict): mmdet's ``SingleRoIExtractor`` config; its
            ``out_channels`` defaults to ``in_channels`` and its output size
            is ``h x w``. Only the first ``len(featmap_strides)`` FPN levels
            given to :meth:`forward` are used.
        num_convs (int): 3x3 convs of the shared stack. Defaults to 4.
        conv_channels (int): Channels of the shared convs. Defaults to 64
            (Mask Scoring R-CNN: 256).
        downsample_first (bool): Stride 2 on the first conv instead of the
            last (Mask Scoring R-CNN). Defaults to True.
        fc_channels (int): Width of the two hidden fcs of each branch.
            Defaults to 256 (Mask Scoring R-CNN: 1024).
        with_iou (bool): Regress :math:`S_{IoU}` ("MS", Table 1).
            Defaults to True.
        with_boundary (bool): Regress :math:`S_{boundary}` ("BS", Table 1).
            Defaults to True.
        mask_thr (float): Binarisation threshold of the predicted mask
            probabilities, for the boundary input and the targets.
            Defaults to 0.5.
        max_train_instances (int): At most this many instances of the batch
            (chosen at random) are scored in :meth:`loss`. Defaults to 64.
        roi_align (str): How the RoI features are pooled: ``'gather'``
            (:func:`~mmb2inst.models.utils.gather_roi_align`: mmcv's
            RoIAlign of every level in one weighted gather, on every
            thread; ``roi_extractor`` must use ``RoIAlign`` with
            ``pool_mode='avg'``) or ``'mmcv'`` (``roi_extractor`` itself).
            The two agree to float rounding. Defaults to ``'gather'``.
        target_frame (str): ``'fixed'`` (the :attr:`mask_size` frame) or
            ``'box'`` (each box's own size, capped). Defaults to
            ``'fixed'``.
        max_frame_size (int): With ``target_frame='box'``, the longest
            side of a frame, in pixels. It is also :attr:`mask_size`, the
            square the hosts resample masks and GT crops to, and
            :attr:`gt_size`. Defaults to 112.
        loss_iou (dict, optional): Loss of the :math:`S_{IoU}` logits, an
            mmdet loss called as ``loss(logits, targets)``. Defaults to
            ``CrossEntropyLoss(use_sigmoid=True)``.
        score_output (str): ``'sigmoid'``: each score is the sigmoid of a
            logit. ``'linear'``: the output itself, as Mask Scoring R-CNN;
            :meth:`scores` clamps it to [0, 1] for Eq. (2). Defaults to
            ``'sigmoid'``.
        loss_iou (dict, optional): Loss of the :math:`S_{IoU}` outputs, an
            mmdet loss called as ``loss(outputs, targets)``. Defaults to
            ``CrossEntropyLoss(use_sigmoid=True)`` for ``'sigmoid'`` and
            Mask Scoring R-CNN's ``MSELoss(loss_weight=0.5)`` for
            ``'linear'``.
        loss_boundary (dict, optional): Same for :math:`S_{boundary}`.
        init_cfg (dict | list[dict], optional): Defaults to None, meaning
            Mask Scoring R-CNN's: Kaiming convs, Caffe2Xavier hidden fcs,
            Normal(std=0.01) output fcs.
    """

    def __init__(self,
                 in_channels: int = 256,
                 roi_extractor: dict = DEFAULT_ROI_EXTRACTOR,
                 num_convs: int = 4,
                 conv_channels: int = 64,
                 downsample_first: bool = True,
                 fc_channels: int = 256,
                 with_iou: bool = True,
                 with_boundary: bool = True,
                 mask_thr: float = 0.5,
                 max_train_instances: int = 64,
                 roi_align: str = 'gather',
                 target_frame: str = 'fixed',
                 max_frame_size: int = 112,
                 score_output: str = 'sigmoid',
                 loss_iou: Optional[dict] = None,
                 loss_boundary: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if not (with_iou or with_boundary):
            raise ConfigError(
                f'{CFG_KEY}.with_iou=False and {CFG_KEY}.with_boundary=False:'
                ' nothing to regress; set at least one of them to True '
                '(with_iou: S_IoU, "MS"; with_boundary: S_boundary, "BS"; '
                f'both: Eq. (2)), or drop {CFG_KEY}.')
        if num_convs < 1:
            raise ConfigError(f'{CFG_KEY}.num_convs={num_convs}; it must be '
                              '>= 1 (4 in Mask Scoring R-CNN).')
        if max_train_instances < 1:
            raise ConfigError(
                f'{CFG_KEY}.max_train_instances={max_train_instances}; it '
                'must be >= 1.')
        if target_frame not in FRAMES:
            raise ConfigError(
                f'{CFG_KEY}.target_frame={target_frame!r} is not one of '
                f'{FRAMES}: the fixed mask_size frame, or each box at its own '
                'size (Eq. (1) as the paper states it).')
        if max_frame_size < 1:
            raise ConfigError(f'{CFG_KEY}.max_frame_size={max_frame_size}; '
                              'give the longest side of a box frame in '
                              'pixels, >= 1 (e.g. 112).')
        if score_output not in DEFAULT_LOSSES:
            raise ConfigError(
                f'{CFG_KEY}.score_output={score_output!r}; it must be one of '
                f'{", ".join(map(repr, DEFAULT_LOSSES))}.')
        self.branches = tuple(name
                              for name, on in zip(BRANCHES, (with_iou,
                                                             with_boundary))
                              if on)
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', override=dict(name='convs')),
                dict(
                    type='Caffe2Xavier',
                    override=[dict(name=f'{b}_fcs') for b in self.branches]),
                dict(
                    type='Normal',
                    std=0.01,
                    override=[dict(name=f'{b}_pred') for b in self.branches])
            ]
        super().__init__(init_cfg=init_cfg)
        self.with_iou = with_iou
        self.with_boundary = with_boundary
        self.mask_thr = mask_thr
        self.max_train_instances = max_train_instances
        self.target_frame = target_frame
        self.max_frame_size = max_frame_size
        self.score_output = score_output

        roi_extractor = with_defaults(roi_extractor, DEFAULT_ROI_EXTRACTOR)
        roi_extractor.setdefault('out_channels', in_channels)
        if roi_extractor['out_channels'] != in_channels:
            raise ConfigError(
                f'{CFG_KEY}.roi_extractor.out_channels='
                f"{roi_extractor['out_channels']} but {CFG_KEY}.in_channels="
                f'{in_channels}; set both to the FPN channels.')
        self.roi_extractor = MODELS.build(roi_extractor)
        if roi_align not in ROI_ALIGNS:
            raise ConfigError(f'{CFG_KEY}.roi_align={roi_align!r} is not one '
                              f'of {ROI_ALIGNS}.')
        layers = self.roi_extractor.roi_layers
        if roi_align == 'gather' and not all(
                type(layer).__name__ == 'RoIAlign' and layer.pool_mode == 'avg'
                for layer in layers):
            raise ConfigError(
                f"{CFG_KEY}.roi_align='gather' computes mmcv's RoIAlign "
                "(pool_mode='avg') only; set roi_align='mmcv' for "
                f"{CFG_KEY}.roi_extractor.roi_layer={layers[0]!r}.")
        self.roi_align = roi_align
        size = self.roi_extractor.roi_layers[0].output_size
        self.roi_size = (size, size) if isinstance(size, int) else tuple(size)
        # Mask Scoring R-CNN pools 28x28 masks to its 14x14 RoIs.
        self.pooled_size = (2 * self.roi_size[0], 2 * self.roi_size[1])
        if target_frame == 'fixed':
            self.mask_size = self.pooled_size
            # the hosts' own GT crops are resampled to mask_size
            self.gt_size = None
        else:
            # the hosts hand masks and GT at the cap; each box's frame is
            # resampled from them
            self.mask_size = self.gt_size = (max_frame_size, ) * 2

        convs = []
        channels = in_channels + 2  # + mask + boundary
        strided = 0 if downsample_first else num_convs - 1
        for i in range(num_convs):
            stride = 2 if i == strided else 1
            convs += [
                nn.Conv2d(
                    channels, conv_channels, 3, stride=stride, padding=1),
                nn.ReLU(inplace=True)
            ]
            channels = conv_channels
        self.convs = nn.Sequential(*convs)
        # A 3x3 stride-2 conv with padding 1 gives ceil(size / 2).
        flat = conv_channels * math.prod((s + 1) // 2 for s in self.roi_size)
        for name in self.branches:
            setattr(
                self, f'{name}_fcs',
                nn.Sequential(
                    nn.Linear(flat, fc_channels), nn.ReLU(inplace=True),
                    nn.Linear(fc_channels, fc_channels),
                    nn.ReLU(inplace=True)))
            setattr(self, f'{name}_pred', nn.Linear(fc_channels, 1))
        default_loss = DEFAULT_LOSSES[score_output]
        self.loss_iou = MODELS.build(with_defaults(
            loss_iou, default_loss)) if with_iou else None
        self.loss_boundary = MODELS.build(
            with_defaults(loss_boundary,
                          default_loss)) if with_boundary else None

    def forward(self, feats: Sequence[Tensor], rois: Tensor,
                mask_probs: Tensor) -> Dict[str, Optional[Tensor]]:
        """Score outputs: logits or linear scores (``score_output``),
        mapped to [0, 1] by :meth:`scores`.

        Args:
            feats (Sequence[Tensor]): FPN levels, finest first, each
                ``(B, in_channels, H_l, W_l)``.
            rois (Tensor): ``(N, 5)`` boxes ``[batch_idx, x1, y1, x2, y2]``
                in network-input pixels.
            mask_probs (Tensor): ``(N, h', w')`` predicted mask
                probabilities in the frame of each RoI (sigmoid applied),
                ideally at :attr:`mask_size`. Detached here.

        Returns:
            dict: ``iou`` and ``boundary``, each ``(N,)`` or None when the
            branch is disabled.
        """
        feats = tuple(feats[:self.roi_extractor.num_inputs])
        if feats[0].dtype == torch.bfloat16:
            # mmcv's RoIAlign has no bfloat16 kernel (autocast casts back).
            feats = tuple(f.float() for f in feats)
        roi_feats = self.roi_features(feats, rois)
        masks = mask_probs.detach().to(roi_feats.dtype)
        if self.target_frame == 'box':
            extra = self._box_inputs(masks, rois)
        else:
            extra = self._fixed_inputs(masks)
        return self.head(roi_feats, extra)

    def head(self, roi_feats: Tensor, extra: Tensor) -> Dict[str, Tensor]:
        """The convs, fcs and predictors on the RoI features ``(N,
        in_channels, h, w)`` and the mask and boundary inputs ``(N, 2, h,
        w)``: the logits of :meth:`forward`."""
        # channels-last (the gather's layout): the faster one for these
        # convs on CPU
        x = torch.cat([
            roi_feats.contiguous(memory_format=torch.channels_last),
            extra.contiguous(memory_format=torch.channels_last)
        ], 1)
        x = self.convs(x).flatten(1)
        out = dict.fromkeys(BRANCHES)
        for name in self.branches:
            hidden = getattr(self, f'{name}_fcs')(x)
            out[name] = getattr(self, f'{name}_pred')(hidden)[:, 0]
        return out

    def roi_features(self, feats: Sequence[Tensor], rois: Tensor) -> Tensor:
        """``(N, in_channels, h, w)`` RoIAligned features of the RoIs, each
        from the FPN level ``roi_extractor`` maps it to."""
        if self.roi_align == 'mmcv':
            return self.roi_extractor(feats, rois)
        extractor = self.roi_extractor
        layer = extractor.roi_layers[0]
        return gather_roi_align(
            feats,
            rois,
            self.roi_size,
            [layer.spatial_scale for layer in extractor.roi_layers],
            layer.sampling_ratio,
            layer.aligned,
            levels=extractor.map_roi_levels(rois, len(feats)))

    def _fixed_inputs(self, masks: Tensor) -> Tensor:
        """``(N, 2, h, w)`` mask and boundary inputs from masks in the
        fixed frame."""
        boundaries = laplacian_boundary(masks >= self.mask_thr)
        extra = torch.stack([masks, boundaries.to(masks.dtype)], 1)
        if tuple(masks.shape[-2:]) == tuple(self.pooled_size):
            # the usual case; a plain max pool (ONNX has no adaptive one)
            return F.max_pool2d(extra, self.pooled_size[0] // self.roi_size[0])
        return F.adaptive_max_pool2d(extra, self.roi_size)

    def _box_inputs(self, masks: Tensor, rois: Tensor) -> Tensor:
        """``(N, 2, h, w)`` mask and boundary inputs, each taken at its box's
        frame (:meth:`box_frames`) and max-pooled to the RoI size."""
        frames, sizes = self.box_frames(masks, rois)
        boundaries = laplacian_boundary(frames >= self.mask_thr)
        extra = torch.stack([frames, boundaries], 1).to(masks.dtype)
        return torch.cat([
            F.adaptive_max_pool2d(extra[i:i + 1, :, :h, :w], self.roi_size)
            for i, (h, w) in enumerate(sizes.tolist())
        ]) if len(sizes) else extra.new_zeros((0, 2, *self.roi_size))

    def frame_sizes(self, rois: Tensor) -> Tensor:
        """``(N, 2)`` integer ``(height, width)`` of each box's frame: the
        box's size in pixels (rounded, at least 1), scaled down so that the
        longest side is at most ``max_frame_size``."""
        hw = torch.stack([rois[:, 4] - rois[:, 2], rois[:, 3] - rois[:, 1]],
                         1).float().clamp(min=0)
        longest = hw.max(1, keepdim=True).values.clamp(min=1e-6)
        scale = (self.max_frame_size / longest).clamp(max=1.)
        return (hw * scale).round().clamp(1, self.max_frame_size).long()

    def box_frames(self, masks: Tensor, rois: Tensor) -> Tuple[Tensor, Tensor]:
        """Masks in their boxes' own frames, all in one padded tensor.

        Args:
            masks (Tensor): ``(N, h', w')`` masks in the frame of each RoI,
                at any size (probabilities or 0/1).
            rois (Tensor): ``(N, 5)`` boxes in network-input pixels.

        Returns:
            tuple: ``frames`` ``(N, H, W)`` float, where instance ``i``
            occupies ``[:h_i, :w_i]``, bilinearly resampled from ``masks[i]``
            exactly as ``F.interpolate(size=(h_i, w_i), mode='bilinear',
            align_corners=False)`` would, and is zero elsewhere (outside
            pixels count as outside a mask for the Laplacian, as beyond an
            image border, so the boundary, IoU and Dice of the padded
            frame are those of the ``h_i x w_i`` one); and ``sizes``
            ``(N, 2)`` from :meth:`frame_sizes`.
        """
        sizes = self.frame_sizes(rois)
        num = masks.size(0)
        if num == 0:
            return masks.new_zeros((0, 1, 1)).float(), sizes
        height, width = (int(v) for v in sizes.max(0).values.tolist())
        ys = torch.arange(height, device=masks.device, dtype=torch.float32)
        xs = torch.arange(width, device=masks.device, dtype=torch.float32)
        frame_h = sizes[:, :1].float()
        frame_w = sizes[:, 1:].float()
        # the sample point of output pixel j of a size-n frame, normalised
        # as grid_sample's align_corners=False: 2 (j + 0.5) / n - 1
        gy = (2 * (ys[None] + 0.5) / frame_h - 1)  # (N, H)
        gx = (2 * (xs[None] + 0.5) / frame_w - 1)  # (N, W)
        grid = torch.stack([
            gx[:, None, :].expand(num, height, width), gy[:, :, None].expand(
                num, height, width)
        ], -1)
        frames = F.grid_sample(
            masks[:, None].float(),
            grid,
            mode='bilinear',
            padding_mode='border',
            align_corners=False)[:, 0]
        inside = (ys[None, :, None] < frame_h[:, :, None]) & \
            (xs[None, None, :] < frame_w[:, :, None])
        return frames * inside, sizes

    def scores(self, outputs: Tensor) -> Tensor:
        """Scores in [0, 1] from the outputs of :meth:`forward`: their
        sigmoid (``'sigmoid'``) or the linear outputs clamped to [0, 1]
        (``'linear'``), so that Eq. (2) multiplies by at most 1 and takes
        the square root of no negative number."""
        outputs = outputs.float()
        if self.score_output == 'linear':
            return outputs.clamp(0, 1)
        return outputs.sigmoid()

    def in_frame(self, masks: Tensor) -> Tensor:
        """Masks ``(N, h, w)`` resampled (bilinear) to the scorer's frame
        :attr:`mask_size`, ``(N, 2h_roi, 2w_roi)``, whatever frame the host
        blends in (YOLACT crops at it, BlendMask blends at 56 x 56). With
        ``target_frame='box'`` the masks are returned as they are: each is
        resampled to its box's frame (:meth:`box_frames`) where it is used.
        """
        if tuple(masks.shape[-2:]) == tuple(self.mask_size) or \
                masks.shape[0] == 0 or self.target_frame == 'box':
            return masks
        return F.interpolate(
            masks[:, None].float(),
            self.mask_size,
            mode='bilinear',
            align_corners=False)[:, 0].to(masks.dtype)

    @torch.no_grad()
    def get_targets(self, mask_probs: Tensor,
                    gt_masks: Tensor) -> Tuple[Tensor, Tensor]:
        """Mask IoU and boundary Dice (Eq. (1)) of the binarised prediction.

        Args:
            mask_probs (Tensor): ``(N, h, w)`` predicted probabilities,
                binarised at ``mask_thr``.
            gt_masks (Tensor): ``(N, h, w)`` ground-truth masks in the same
                frame (bool, integer or ``>= 0.5`` float).

        Returns:
            tuple: ``iou_targets`` and ``boundary_targets``, ``(N,)`` each.
        """
        return (mask_iou(mask_probs, gt_masks, thr=self.mask_thr),
                boundary_dice(mask_probs, gt_masks, thr=self.mask_thr))

    def _zero_loss(self) -> Tensor:
        # Zero, but connected to every parameter: no unused parameters in
        # distributed training when a batch has nothing to score.
        return sum(p.sum() for p in self.parameters()) * 0.

    def loss(self, feats: Sequence[Tensor], rois: Tensor, mask_probs: Tensor,
             gt_masks: Tensor) -> Dict[str, Tensor]:
        """Scoring losses of (at most ``max_train_instances``) instances.

        Args:
            feats (Sequence[Tensor]): FPN levels, as in :meth:`forward`.
            rois (Tensor): ``(N, 5)`` boxes (the GT boxes) in input pixels.
            mask_probs (Tensor): ``(N, h, w)`` predicted probabilities in the
                RoI frame.
            gt_masks (Tensor): ``(N, h, w)`` matched GT masks in the same
                frame.

        Returns:
            dict: ``loss_score_iou`` and/or ``loss_score_boundary``, the
            enabled branches only; zero (with gradients) when ``N == 0``.
        """
        num = rois.size(0)
        if num > self.max_train_instances:
            keep = torch.randperm(
                num, device=rois.device)[:self.max_train_instances]
            rois, mask_probs, gt_masks = rois[keep], mask_probs[keep], \
                gt_masks[keep]
        if self.target_frame == 'box':
            probs_f = self.box_frames(mask_probs, rois)[0]
            gt_f = self.box_frames(gt_masks.float(), rois)[0] >= 0.5
        else:
            mask_probs = probs_f = self.in_frame(mask_probs)
            gt_f = self.in_frame(gt_masks.float()) >= 0.5
        iou_targets, boundary_targets = self.get_targets(probs_f, gt_f)
        valid = gt_f.flatten(1).any(1)
        targets = dict(iou=iou_targets, boundary=boundary_targets)
        preds = self(feats, rois, mask_probs) if bool(valid.any()) else None
        losses = dict()
        for name in self.branches:
            if preds is None:
                losses[f'loss_score_{name}'] = self._zero_loss()
                continue
            loss_fn = getattr(self, f'loss_{name}')
            # In float32 under mixed precision (targets are float32).
            losses[f'loss_score_{name}'] = loss_fn(
                preds[name][valid].float(), targets[name][valid].float())
        return losses

    def predict(self, feats: Sequence[Tensor], rois: Tensor, mask_probs: Tensor
                ) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        """Predicted scores in [0, 1].

        Args:
            feats (Sequence[Tensor]): FPN levels, as in :meth:`forward`.
            rois (Tensor): ``(N, 5)`` predicted boxes in input pixels.
            mask_probs (Tensor): ``(N, h, w)`` predicted probabilities in the
                RoI frame.

        Returns:
            tuple: ``iou`` and ``boundary``, each ``(N,)`` or None when the
            branch is disabled.
        """
        if rois.size(0) == 0:
            out = {name: rois.new_zeros(0) for name in self.branches}
        else:
            out = self(feats, rois, self.in_frame(mask_probs))
        return tuple(
            self.scores(out[name]) if name in self.branches else None
            for name in BRANCHES)
