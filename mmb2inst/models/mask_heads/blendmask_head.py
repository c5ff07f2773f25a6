"""BlendMask's mask branch: the basis module and the blender (B2Inst-ready).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.models.dense_heads.base_mask_head import BaseMaskHead
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import InstanceList, OptConfigType
from mmengine.structures import InstanceData
from torch import Tensor

from mmb2inst.errors import ConfigError
from mmb2inst.structures import box_crops, rescore
from .blender import blend, paste_masks, pool_bases, semantic_targets


def centerness_targets(points: Tensor, boxes: Tensor) -> Tensor:
    """FCOS centerness of points w.r.t. their boxes.

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


@MODELS.register_module()
class BlendMaskHead(BaseMaskHead):
    """The basis module and blender of BlendMask, with B2Inst's options.

    Basis module (AdelaiDet's "ProtoNet"): a 3x3 conv-norm-ReLU on each of
    the first ``len(in_levels)`` FPN levels (P3-P5), summed at the finest
    level's resolution, ``num_convs`` 3x3 convs, x2 bilinear upsampling, one
    more 3x3 conv and a 1x1 projection to ``num_bases`` bases at stride 4.
    An auxiliary semantic-segmentation head on P3 (thing classes +
    background, cross-entropy) is trained with targets derived on the fly
    from the instance masks.

    Blender: each FCOS positive (training, with its GT box) or detection
    (inference, with its predicted box) RoI-aligns the bases to
    ``pooler_size`` and weighs them by its softmaxed attention; the mask loss
    is the per-instance mean BCE weighted by the FCOS centerness target.

    B2Inst options (config only): ``boundary`` adds the holistic boundary
    basis (a :class:`BoundaryBasis` on the tower before the projection; with
    ``use_as_basis`` it is the (K+1)-th basis the attentions weigh), and
    ``scorer`` the boundary-aware mask scorer (Eq. 2 at inference).

    Args:
        num_classes (int): Thing classes.
        in_channels (int): FPN channels.
        feat_channels (int): Channels of the basis tower.
        num_bases (int): Bases from the tower (K, without the boundary).
        attn_size (int): Attention resolution M of the detection head.
        pooler_size (int): Resolution R of the blended masks.
        basis_stride (int): Stride of the bases (P3's stride / 2).
        in_levels (Sequence[int]): FPN levels the basis module reads.
        num_convs (int): 3x3 convs of the tower before the upsampling.
        norm_cfg (dict): Norm of the basis module and semantic head (BN on
            CPU toys, SyncBN on several GPUs).
        loss_semantic (dict, optional): Auxiliary semantic loss; None
            disables the semantic head.
        boundary (dict, optional): ``BoundaryBasis`` config.
        scorer (dict, optional): ``BoundaryAwareScorer`` config; needs
            ``boundary``.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 256,
        feat_channels: int = 128,
        num_bases: int = 4,
        attn_size: int = 7,
        pooler_size: int = 56,
        basis_stride: int = 4,
        in_levels: Sequence[int] = (0, 1, 2),
        num_convs: int = 3,
        norm_cfg: OptConfigType = dict(type='BN', requires_grad=True),
        loss_semantic: OptConfigType = dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.3),
        boundary: OptConfigType = None,
        scorer: OptConfigType = None,
        train_cfg: OptConfigType = None,
        test_cfg: OptConfigType = None,
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
        self.attn_size = attn_size
        self.pooler_size = pooler_size
        self.basis_stride = basis_stride
        self.in_levels = tuple(in_levels)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

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
        self.num_bases = num_bases + int(self.boundary is not None
                                         and self.boundary.use_as_basis)

        self.scorer = None
        if scorer is not None:
            if self.boundary is None:
                raise ConfigError(
                    'model.mask_head.scorer (the boundary-aware mask scorer) '
                    'needs model.mask_head.boundary (the holistic boundary '
                    'basis); add model.mask_head.boundary=dict('
                    "type='BoundaryBasis', ...) or drop "
                    'model.mask_head.scorer.')
            scorer = dict(scorer)
            scorer.setdefault('in_channels', in_channels)
            self.scorer = MODELS.build(scorer)

    def forward(self,
                x: Tuple[Tensor],
                positive_infos: Optional[InstanceList] = None) -> tuple:
        """
        Args:
            x (tuple[Tensor]): FPN levels, finest (P3) first.

        Returns:
            tuple: ``bases`` ``(B, num_bases, H/4, W/4)``; ``semantic``
            logits ``(B, C + 1, H/8, W/8)`` (training only, else None);
            ``boundary_logits`` ``(B, 1, H/4, W/4)`` or None.
        """
        size = x[self.in_levels[0]].shape[-2:]
        feat = 0
        for refine, level in zip(self.refine, self.in_levels):
            level_feat = refine(x[level])
            if level_feat.shape[-2:] != size:
                level_feat = F.interpolate(
                    level_feat, size, mode='bilinear', align_corners=False)
            feat = feat + level_feat
        tower = self.tower(feat)
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

    def _attentions(self, params: Tensor) -> Tensor:
        """``(N, K * M * M)`` -> ``(N, K, M, M)``."""
        return params.reshape(-1, self.num_bases, self.attn_size,
                              self.attn_size)

    # Training
    def loss(self, x: Tuple[Tensor], batch_data_samples: SampleList,
             positive_infos: InstanceList, **kwargs) -> dict:
        outs = self(x, positive_infos)
        batch_gt_instances = [s.gt_instances for s in batch_data_samples]
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        return self.loss_by_feat(
            *outs,
            feats=x,
            batch_gt_instances=batch_gt_instances,
            batch_img_metas=batch_img_metas,
            positive_infos=positive_infos)

    def loss_by_feat(self, bases: Tensor, semantic: Optional[Tensor],
                     boundary_logits: Optional[Tensor], feats: Tuple[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict], positive_infos: InstanceList,
                     **kwargs) -> dict:
        """Blender loss on the FCOS positives, plus the semantic, boundary
        and scorer losses of the enabled options."""
        rois, attns, weights, targets = [], [], [], []
        for i, (gt, pos) in enumerate(zip(batch_gt_instances, positive_infos)):
            inds = pos.pos_assigned_gt_inds
            if len(inds) == 0:
                continue
            gt_boxes = get_box_tensor(gt.bboxes).float()
            boxes = gt_boxes[inds]
            rois.append(
                torch.cat([boxes.new_full((len(inds), 1), i), boxes], 1))
            attns.append(pos.param_preds)
            weights.append(centerness_targets(pos.points, boxes))
            # Each GT mask cropped once, then indexed by the positives.
            targets.append(
                box_crops(gt.masks, gt_boxes, self.pooler_size)[inds])
        losses = dict()
        size = (self.pooler_size, ) * 2
        if rois:
            rois = torch.cat(rois)
            logits = blend(
                pool_bases(bases, rois, self.pooler_size,
                           1. / self.basis_stride),
                self._attentions(torch.cat(attns)))
            targets = torch.cat(targets)
            weights = torch.cat(weights)
            per_instance = F.binary_cross_entropy_with_logits(
                logits, targets, reduction='none').mean((1, 2))
            losses['loss_mask'] = (per_instance * weights).sum() / \
                weights.sum().clamp(min=1e-6)
        else:
            # No positive in the batch: a zero loss that keeps the bases and
            # the attention layer in the graph (DDP needs every parameter).
            params = torch.cat([pos.param_preds for pos in positive_infos])
            losses['loss_mask'] = bases.sum() * 0. + params.sum() * 0.
            rois = bases.new_zeros((0, 5))
            logits = targets = bases.new_zeros((0, ) + size)

        if self.semantic_head is not None:
            size = semantic.shape[-2:]
            sem_targets = torch.stack([
                semantic_targets(
                    gt.masks.to_tensor(torch.bool, semantic.device), gt.labels,
                    self.num_classes, size) for gt in batch_gt_instances
            ])
            losses['loss_semantic'] = self.loss_semantic(semantic, sem_targets)
        if self.boundary is not None:
            losses.update(
                self.boundary.loss(boundary_logits, batch_gt_instances,
                                   batch_img_metas))
        if self.scorer is not None:
            losses.update(
                self.scorer.loss(feats, rois, logits.sigmoid(), targets))
        return losses

    # Inference
    def predict(self,
                x: Tuple[Tensor],
                batch_data_samples: SampleList,
                rescale: bool = False,
                results_list: InstanceList = None,
                **kwargs) -> InstanceList:
        outs = self(x)
        batch_img_metas = [s.metainfo for s in batch_data_samples]
        return self.predict_by_feat(
            *outs,
            feats=x,
            results_list=results_list,
            batch_img_metas=batch_img_metas,
            rescale=rescale)

    def predict_by_feat(self,
                        bases: Tensor,
                        semantic: Optional[Tensor],
                        boundary_logits: Optional[Tensor],
                        feats: Tuple[Tensor],
                        results_list: InstanceList,
                        batch_img_metas: List[dict],
                        rescale: bool = True,
                        **kwargs) -> InstanceList:
        """Masks of the detections (``bboxes`` in network-input pixels and
        ``param_preds`` from the detection head).

        Returns:
            list[InstanceData]: per image ``bboxes`` (original image pixels
            when ``rescale``), ``scores`` (the box's class score),
            ``labels``, ``masks`` ``(N, H, W)`` bool at the original (or
            network-input) image size; with the scorer also ``iou_scores``
            and/or ``boundary_scores`` and ``mask_scores`` (Eq. 2, which
            CocoMetric and BoundaryAPMetric rank masks by). The boundary map
            ``(1, H/4, W/4)`` rides in the metainfo as ``boundary_map``.
        """
        cfg = self.test_cfg
        thr = cfg.get('mask_thr_binary', cfg.get('mask_thr', 0.5))
        outputs = []
        for i, (results,
                meta) in enumerate(zip(results_list, batch_img_metas)):
            boxes = results.bboxes
            rois = torch.cat([boxes.new_full((len(boxes), 1), i), boxes], 1)
            probs = blend(
                pool_bases(bases, rois, self.pooler_size,
                           1. / self.basis_stride),
                self._attentions(results.param_preds)).sigmoid()
            out = InstanceData(
                bboxes=boxes, scores=results.scores, labels=results.labels)
            if self.scorer is not None:
                iou, bnd = self.scorer.predict(feats, rois, probs)
                if iou is not None:
                    out.iou_scores = iou
                if bnd is not None:
                    out.boundary_scores = bnd
                out.mask_scores = rescore(results.scores, iou, bnd)
            if rescale:
                height, width = meta['ori_shape'][:2]
                scale = boxes.new_tensor(meta['scale_factor']).repeat(2)
                out.bboxes = boxes / scale
            else:
                height, width = meta['img_shape'][:2]
            out.masks = paste_masks(probs, out.bboxes, height, width) >= thr
            if boundary_logits is not None:
                out.set_metainfo(
                    dict(boundary_map=boundary_logits[i].sigmoid()))
            outputs.append(out)
        return outputs
