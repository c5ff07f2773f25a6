"""BlendMask's basis module ("bottom module"; AdelaiDet's ``ProtoNet``),
with B2Inst's holistic boundary basis."""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmdet.utils import InstanceList, OptConfigType
from mmengine.model import BaseModule
from torch import Tensor

from mmb2inst.structures import semantic_targets


@MODELS.register_module()
class BlendMaskBasisHead(BaseModule):
    """K bases at stride 4 from FPN P3-P5, an auxiliary semantic head, and
    optionally the holistic boundary basis.

    A 3x3 conv-norm-ReLU on each of the ``len(in_levels)`` first FPN levels,
    summed at the finest level's resolution, ``num_convs`` 3x3 convs, x2
    bilinear upsampling, one more 3x3 conv, then a 1x1 projection to
    ``num_bases`` bases. With ``boundary`` a
    :class:`~mmb2inst.models.basis_heads.BoundaryBasis` reads the tower
    before the projection; with its ``use_as_basis`` the boundary map is the
    (K+1)-th basis (see :meth:`BoundaryBasis.as_basis`). The semantic head
    (two 3x3 convs on P3 and a 1x1 to thing classes + background, trained
    with cross-entropy against targets derived from the instance masks) only
    runs in training.

    Args:
        num_classes (int): Thing classes.
        in_channels (int): FPN channels.
        feat_channels (int): Channels of the tower.
        num_bases (int): K, the bases of the tower (without the boundary).
        in_levels (Sequence[int]): FPN levels read.
        num_convs (int): 3x3 convs of the tower before the upsampling.
        norm_cfg (dict): Norm of the convs (BN on CPU toys, SyncBN on GPUs).
        loss_semantic (dict, optional): Auxiliary semantic loss; None
            removes the semantic head.
        boundary (dict, optional): ``BoundaryBasis`` config; its
            ``in_channels`` and ``fpn_channels`` are filled in.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 256,
        feat_channels: int = 128,
        num_bases: int = 4,
        in_levels: Sequence[int] = (0, 1, 2),
        num_convs: int = 3,
        norm_cfg: OptConfigType = dict(type='BN', requires_grad=True),
        loss_semantic: OptConfigType = dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.3),
        boundary: OptConfigType = None,
        init_cfg: OptConfigType = dict(
            type='Kaiming',
            layer='Conv2d',
            a=1,
            mode='fan_in',
            nonlinearity='leaky_relu',
            distribution='uniform')
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_classes = num_classes
        self.in_levels = tuple(in_levels)
        self.refine = nn.ModuleList(
            ConvModule(
                in_channels, feat_channels, 3, padding=1, norm_cfg=norm_cfg)
            for _ in self.in_levels)
        tower = [
            ConvModule(
                feat_channels, feat_channels, 3, padding=1, norm_cfg=norm_cfg)
            for _ in range(num_convs)
        ]
        tower.append(
            nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False))
        tower.append(
            ConvModule(
                feat_channels, feat_channels, 3, padding=1, norm_cfg=norm_cfg))
        self.tower = nn.Sequential(*tower)
        self.basis_pred = nn.Conv2d(feat_channels, num_bases, 1)

        self.semantic_head = None
        if loss_semantic is not None:
            self.semantic_head = nn.Sequential(
                ConvModule(
                    in_channels,
                    feat_channels,
                    3,
                    padding=1,
                    norm_cfg=norm_cfg),
                ConvModule(
                    feat_channels,
                    feat_channels,
                    3,
                    padding=1,
                    norm_cfg=norm_cfg),
                nn.Conv2d(feat_channels, num_classes + 1, 1))
            self.loss_semantic = MODELS.build(loss_semantic)

        self.boundary = None
        if boundary is not None:
            boundary = dict(boundary)
            boundary.setdefault('in_channels', feat_channels)
            boundary.setdefault('fpn_channels', in_channels)
            self.boundary = MODELS.build(boundary)
        #: Bases the blender weighs: K, + 1 with the boundary as a basis.
        self.num_bases = num_bases + int(self.boundary is not None
                                         and self.boundary.use_as_basis)

    def _tower(self, x: Sequence[Tensor]) -> Tensor:
        size = x[self.in_levels[0]].shape[-2:]
        feat = 0
        for refine, level in zip(self.refine, self.in_levels):
            level_feat = refine(x[level])
            if level_feat.shape[-2:] != size:
                level_feat = F.interpolate(
                    level_feat, size, mode='bilinear', align_corners=False)
            feat = feat + level_feat
        return self.tower(feat)

    def forward(self, x: Sequence[Tensor]) -> tuple:
        """
        Args:
            x (Sequence[Tensor]): FPN levels, finest (P3) first.

        Returns:
            tuple: ``bases`` ``(B, num_bases, H/4, W/4)`` (the boundary
            basis last when it is one); ``semantic`` logits ``(B, C + 1,
            H/8, W/8)`` in training, else None; ``boundary_logits``
            ``(B, 1, H/4, W/4)`` or None.
        """
        tower = self._tower(x)
        boundary_logits = None
        if self.boundary is not None:
            tower, boundary_logits = self.boundary(tower, x)
        bases = self.basis_pred(tower)
        if self.boundary is not None and self.boundary.use_as_basis:
            bases = torch.cat([bases,
                               self.boundary.as_basis(boundary_logits)],
                              dim=1)
        semantic = None
        if self.semantic_head is not None and self.training:
            semantic = self.semantic_head(x[self.in_levels[0]])
        return bases, semantic, boundary_logits

    def forward_bases(self, x: Sequence[Tensor]) -> dict:
        """The learned bases and the boundary map, for pictures (Fig. 8).

        Returns:
            dict: ``bases`` ``(B, K, H/4, W/4)`` (without the boundary
            basis) and ``boundary`` ``(B, 1, H/4, W/4)`` probabilities or
            None.
        """
        tower = self._tower(x)
        boundary = None
        if self.boundary is not None:
            tower, logits = self.boundary(tower, x)
            boundary = logits.sigmoid()
        return dict(bases=self.basis_pred(tower), boundary=boundary)

    def loss(self, semantic: Optional[Tensor],
             boundary_logits: Optional[Tensor],
             batch_gt_instances: InstanceList,
             batch_img_metas: List[dict]) -> dict:
        """``loss_semantic`` (with the semantic head) and ``loss_boundary``
        (with a supervised boundary basis)."""
        losses = dict()
        if self.semantic_head is not None:
            size = semantic.shape[-2:]
            targets = torch.stack([
                semantic_targets(
                    gt.masks.to_tensor(torch.bool, semantic.device), gt.labels,
                    self.num_classes, size) for gt in batch_gt_instances
            ])
            losses['loss_semantic'] = self.loss_semantic(semantic, targets)
        if self.boundary is not None:
            losses.update(
                self.boundary.loss(boundary_logits, batch_gt_instances,
                                   batch_img_metas))
        return losses
