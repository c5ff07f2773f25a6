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
from ..utils import with_defaults

BRANCHES = ('iou', 'boundary')
DEFAULT_ROI_EXTRACTOR = dict(
    type='SingleRoIExtractor',
    roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
    featmap_strides=[8, 16, 32])
# Mask Scoring R-CNN's loss of its linear outputs, and the loss of the
# bounded scorer's logits: binary cross-entropy with the soft targets, whose
# gradient in the logit, (sigmoid(x) - target), is MS R-CNN's (y - target).
LINEAR_LOSS = dict(type='MSELoss', loss_weight=0.5)
BOUNDED_LOSS = dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.)
# Where mmb2inst's configs put this module, for the error messages.
CFG_KEY = 'model.mask_head.scorer'


@MODELS.register_module()
class BoundaryAwareScorer(BaseModule):
    r"""Regresses :math:`S_{IoU}` and :math:`S_{boundary}` of each mask.

    Input, all at the RoI size ``h x w`` of ``roi_extractor`` (14 x 14 by
    default) and concatenated along channels:

    - the RoI-pooled FPN features (``in_channels``);
    - the predicted mask probabilities, max-pooled from the resolution the
      host gives (``mask_size``, 28 x 28 by default) as in Mask Scoring
      R-CNN;
    - the Laplacian boundary of the binarised predicted mask, computed at
      the host's resolution (where a boundary is one pixel wide) and
      max-pooled, so that no boundary pixel is lost.

    A shared stack of ``num_convs`` 3x3 conv + ReLU layers (the last one with
    stride 2, as Mask Scoring R-CNN; or the first one with
    ``downsample_first``) is followed by one fully-connected branch per score
    (fc + ReLU, fc + ReLU, fc -> 1), both class-agnostic. The input is the
    same whichever branches are enabled, so the Table 1 rows (MS, BS,
    MS + BS) differ only in what is regressed and used at test time.

    The mask and boundary inputs are detached: the scorer learns to judge
    masks and never pushes gradients into the mask branch. The RoI features
    are not detached (as in Mask Scoring R-CNN), so the scoring losses do
    reach the FPN and backbone.

    Training targets (:meth:`get_targets`) compare the binarised prediction
    with the ground-truth mask, both in the frame of the box the host used
    (the GT box in training, as in the paper). Unlike Mask Scoring R-CNN,
    which supervises the IoU only where its target is ``> 0``, every
    instance whose GT crop is non-empty is supervised, IoU 0 included: with
    GT boxes as RoIs a zero IoU means an empty or completely wrong mask,
    which happens at test time too and must get a low score rather than an
    unsupervised one. ``iou_ignore_zero=True`` restores MS R-CNN's rule.
    Instances with an empty GT crop (degenerate annotations) have no
    meaningful target and are dropped from both losses.

    Args:
        in_channels (int): Channels of the FPN features. Defaults to 256.
        roi_extractor (dict): Config of the RoI feature extractor (mmdet's
            ``SingleRoIExtractor``); its ``out_channels`` defaults to
            ``in_channels`` and its RoI output size is the scorer's input
            size ``h x w``. Only the first ``len(featmap_strides)`` FPN
            levels given to :meth:`forward` are used.
        num_convs (int): 3x3 convs of the shared stack. Defaults to 4.
        conv_channels (int): Channels of the shared convs. Defaults to 64
            (Mask Scoring R-CNN: 256).
        downsample_first (bool): Give the first conv the stride 2 instead of
            the last, so that the other convs run at a quarter of the
            positions: with Mask Scoring R-CNN's sizes 2.8x fewer FLOPs per
            RoI, for the same output size and number of layers. Defaults to
            True (Mask Scoring R-CNN: False).
        fc_channels (int): Width of the two hidden fcs of each branch.
            Defaults to 256 (Mask Scoring R-CNN: 1024). The defaults are
            the light scorer the configs ship: +0.7% of BlendMask's FLOPs
            at 100 detections per image, against +20% for Mask Scoring
            R-CNN's sizes.
        with_iou (bool): Regress :math:`S_{IoU}` ("MS"). Defaults to True.
        with_boundary (bool): Regress :math:`S_{boundary}` ("BS").
            Defaults to True.
        mask_thr (float): Binarisation threshold of the predicted mask
            probabilities, for the boundary input and the targets.
            Defaults to 0.5.
        max_train_instances (int): In :meth:`loss`, at most this many
            instances (randomly chosen over the whole batch) are scored, to
            bound the cost. Defaults to 64.
        iou_ignore_zero (bool): Supervise :math:`S_{IoU}` only where its
            target is ``> 0`` (Mask Scoring R-CNN). Defaults to False.
        bounded (bool): Predict each score as the sigmoid of a logit and
            train the logit with binary cross-entropy against the soft
            target, so that scores stay in [0, 1] (the targets' range) and
            the gradient, ``sigmoid(x) - target``, stays bounded when the
            shared features spike: with Mask Scoring R-CNN's raw linear
            output and squared error, a randomly initialised B2Inst-YOLACT
            on COCO saw ``loss_score_iou`` jump from 0.04 to 293 in one SGD
            iteration. (A squared error of the sigmoid would not do: where
            the early targets are all ~0 it saturates the sigmoid and stops
            learning; measured on the toy B2Inst-YOLACT, whose scores
            collapsed to 0.) False gives MS R-CNN's linear output and squared
            error. Defaults to True.
        loss_iou (dict, optional): Loss of :math:`S_{IoU}`, any mmdet loss
            called as ``loss(pred, target)`` on the logits (``bounded``) or
            the linear outputs. Defaults to binary cross-entropy with logits
            (``bounded``), else ``MSELoss(loss_weight=0.5)``, Mask Scoring
            R-CNN's.
        loss_boundary (dict, optional): Same for :math:`S_{boundary}`; same
            default, since both targets live in [0, 1] and play the same
            role.
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
                 iou_ignore_zero: bool = False,
                 bounded: bool = True,
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
        self.iou_ignore_zero = iou_ignore_zero
        self.bounded = bounded

        roi_extractor = with_defaults(roi_extractor, DEFAULT_ROI_EXTRACTOR)
        roi_extractor.setdefault('out_channels', in_channels)
        if roi_extractor['out_channels'] != in_channels:
            raise ConfigError(
                f'{CFG_KEY}.roi_extractor.out_channels='
                f"{roi_extractor['out_channels']} but {CFG_KEY}.in_channels="
                f'{in_channels}; set both to the FPN channels.')
        self.roi_extractor = MODELS.build(roi_extractor)
        size = self.roi_extractor.roi_layers[0].output_size
        self.roi_size = (size, size) if isinstance(size, int) else tuple(size)
        # Mask Scoring R-CNN pools 28x28 masks to its 14x14 RoIs.
        self.mask_size = (2 * self.roi_size[0], 2 * self.roi_size[1])

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
        default = BOUNDED_LOSS if bounded else LINEAR_LOSS
        self.loss_iou = MODELS.build(with_defaults(
            loss_iou, default)) if with_iou else None
        self.loss_boundary = MODELS.build(
            with_defaults(loss_boundary, default)) if with_boundary else None

    def forward(self, feats: Sequence[Tensor], rois: Tensor,
                mask_probs: Tensor) -> Dict[str, Optional[Tensor]]:
        """Raw score regressions: the logits with ``bounded`` (the scores
        are their sigmoids, :meth:`scores`), else the (unclamped) linear
        outputs.

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
        roi_feats = self.roi_extractor(feats, rois)
        masks = mask_probs.detach().to(roi_feats.dtype)
        boundaries = laplacian_boundary(masks >= self.mask_thr)
        extra = torch.stack([masks, boundaries.to(masks.dtype)], 1)
        if tuple(masks.shape[-2:]) == tuple(self.mask_size):
            # the usual case; a plain max pool (ONNX has no adaptive one)
            extra = F.max_pool2d(extra, self.mask_size[0] // self.roi_size[0])
        else:
            extra = F.adaptive_max_pool2d(extra, self.roi_size)
        x = self.convs(torch.cat([roi_feats, extra], 1)).flatten(1)
        out = dict.fromkeys(BRANCHES)
        for name in self.branches:
            hidden = getattr(self, f'{name}_fcs')(x)
            out[name] = getattr(self, f'{name}_pred')(hidden)[:, 0]
        return out

    def scores(self, raw: Tensor) -> Tensor:
        """Scores in [0, 1] from the raw regressions of :meth:`forward`."""
        raw = raw.float()
        return raw.sigmoid() if self.bounded else raw.clamp(0, 1)

    def in_frame(self, masks: Tensor) -> Tensor:
        """Masks ``(N, h, w)`` resampled (bilinear) to the scorer's frame
        :attr:`mask_size`, whatever frame the host blends in (YOLACT's
        crops are made at it, BlendMask blends at 56 x 56).

        Eq. (1) is defined over the box's own h x w pixels; its targets are
        computed in this fixed frame instead because there they rank masks
        better by what Boundary AP rewards: on the toy val set (2951
        predictions of toy B2Inst-BlendMask matched to a GT), Spearman's
        correlation of Eq. (1) with the per-instance Boundary IoU is 0.75 in
        the box's own pixels, 0.83 / 0.81 / 0.78 / 0.77 in 14 / 28 / 56 /
        112 px frames (``tools/analysis/score_quality.py --frames``): 1-px
        boundaries at full resolution make the Dice of any small shift ~0.
        """
        if tuple(masks.shape[-2:]) == tuple(self.mask_size) or \
                masks.shape[0] == 0:
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
        mask_probs = self.in_frame(mask_probs)
        gt_masks = self.in_frame(gt_masks.float()) >= 0.5
        iou_targets, boundary_targets = self.get_targets(mask_probs, gt_masks)
        # same foreground convention as mask_iou / boundary_dice
        gt_fg = gt_masks >= 0.5 if gt_masks.is_floating_point() else \
            gt_masks != 0
        valid = gt_fg.flatten(1).any(1)
        targets = dict(iou=iou_targets, boundary=boundary_targets)
        masks = dict(iou=valid, boundary=valid)
        if self.iou_ignore_zero:
            masks['iou'] = valid & (iou_targets > 0)
        preds = self(feats, rois, mask_probs) if bool(valid.any()) else None
        losses = dict()
        for name in self.branches:
            keep = masks[name]
            if preds is None or not bool(keep.any()):
                losses[f'loss_score_{name}'] = self._zero_loss()
                continue
            loss_fn = getattr(self, f'loss_{name}')
            # In float32 under mixed precision: targets are float32 in
            # [0, 1], and squared errors of float16 lose their small values.
            losses[f'loss_score_{name}'] = loss_fn(preds[name][keep].float(),
                                                   targets[name][keep].float())
        return losses

    def predict(self, feats: Sequence[Tensor], rois: Tensor, mask_probs: Tensor
                ) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        """Predicted scores, clamped to [0, 1] (the range of the targets).

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
