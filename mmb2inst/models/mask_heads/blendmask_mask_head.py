"""BlendMask's mask head: the basis module and the blender, with B2Inst's
boundary basis and boundary-aware mask scorer."""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.dense_heads.base_mask_head import BaseMaskHead
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import get_box_tensor, scale_boxes
from mmdet.utils import InstanceList, OptConfigType
from mmengine.structures import InstanceData
from torch import Tensor

from mmb2inst.structures import box_crops, rescore
from .blender import blend, centerness_targets, paste_masks, pool_bases


@MODELS.register_module()
class BlendMaskHead(BaseMaskHead):
    """BlendMask's bottom module and blender (Chen et al., CVPR 2020).

    The basis module (:class:`~mmb2inst.models.basis_heads.
    BlendMaskBasisHead`, ``basis_head``) predicts K bases at stride 4 (and,
    with ``boundary``, the holistic boundary basis). The blender: each FCOS
    positive (training, with its GT box) or detection (inference, with its
    predicted box) RoI-aligns the bases to ``pooler_size`` and weighs them
    by its ``K x M x M`` attention, softmaxed over the bases; the mask loss
    is the per-instance mean BCE weighted by the FCOS centerness target
    (AdelaiDet's). With ``scorer``, the boundary-aware mask scorer regresses
    S_IoU and S_boundary of each mask and Eq. (2) gives ``mask_scores``.

    Args:
        num_classes (int): Thing classes.
        in_channels (int): FPN channels.
        feat_channels (int): Channels of the basis tower.
        num_bases (int): K, the bases of the tower (without the boundary).
        attn_size (int): Attention resolution M (7 in the paper, 14 in
            AdelaiDet); the detection head's is set to it by
            :class:`~mmb2inst.models.detectors.BlendMask`.
        pooler_size (int): Resolution R of the blended masks.
        basis_stride (int): Stride of the bases.
        in_levels (Sequence[int]): FPN levels the basis module reads.
        num_convs (int): 3x3 convs of the basis tower before upsampling.
        norm_cfg (dict): Norm of the basis module.
        loss_semantic (dict, optional): Auxiliary semantic loss; None
            disables the semantic head.
        boundary (dict, optional): ``BoundaryBasis`` config.
        scorer (dict, optional): ``BoundaryAwareScorer`` config. Its
            ``in_channels`` defaults to the FPN's. It scores the blended
            masks from the FPN features and does not need ``boundary``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int = 256,
                 feat_channels: int = 128,
                 num_bases: int = 4,
                 attn_size: int = 7,
                 pooler_size: int = 56,
                 basis_stride: int = 4,
                 in_levels=(0, 1, 2),
                 num_convs: int = 3,
                 norm_cfg: OptConfigType = dict(type='BN', requires_grad=True),
                 loss_semantic: OptConfigType = dict(
                     type='CrossEntropyLoss',
                     use_sigmoid=False,
                     loss_weight=0.3),
                 boundary: OptConfigType = None,
                 scorer: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_classes = num_classes
        self.attn_size = attn_size
        self.pooler_size = pooler_size
        self.basis_stride = basis_stride
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.basis_head = MODELS.build(
            dict(
                type='BlendMaskBasisHead',
                num_classes=num_classes,
                in_channels=in_channels,
                feat_channels=feat_channels,
                num_bases=num_bases,
                in_levels=in_levels,
                num_convs=num_convs,
                norm_cfg=norm_cfg,
                loss_semantic=loss_semantic,
                boundary=boundary))
        #: Bases the attentions weigh: K, + 1 with the boundary basis.
        self.num_bases = self.basis_head.num_bases
        self.scorer = None
        if scorer is not None:
            scorer = dict(scorer)
            scorer.setdefault('in_channels', in_channels)
            self.scorer = MODELS.build(scorer)

    @property
    def boundary(self):
        """The basis module's ``BoundaryBasis`` (None without it)."""
        return self.basis_head.boundary

    def forward(self,
                x: Tuple[Tensor],
                positive_infos: Optional[InstanceList] = None) -> tuple:
        """The basis module's outputs: ``bases`` ``(B, num_bases, H/4,
        W/4)``, ``semantic`` (training) and ``boundary_logits``."""
        return self.basis_head(x)

    def forward_bases(self, x: Tuple[Tensor]) -> dict:
        """The K learned bases and the boundary map (pictures, Fig. 8)."""
        return self.basis_head.forward_bases(x)

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
        rois, attns, weights, targets, scorer_gts = [], [], [], [], []
        # the scorer's own GT crops when it asks for another frame
        gt_size = getattr(self.scorer, 'gt_size', None)
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
            if gt_size is not None:
                scorer_gts.append(box_crops(gt.masks, gt_boxes, gt_size)[inds])
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
                logits.float(), targets, reduction='none').mean((1, 2))
            losses['loss_mask'] = (per_instance * weights).sum() / \
                weights.sum().clamp(min=1e-6)
        else:
            # No positive in the batch: a zero loss that keeps the bases and
            # the attention layer in the graph (DDP needs every parameter).
            params = torch.cat([pos.param_preds for pos in positive_infos])
            losses['loss_mask'] = bases.sum() * 0. + params.sum() * 0.
            rois = bases.new_zeros((0, 5))
            logits = targets = bases.new_zeros((0, ) + size)
        losses.update(
            self.basis_head.loss(semantic, boundary_logits, batch_gt_instances,
                                 batch_img_metas))
        if self.scorer is not None:
            if gt_size is not None:
                targets = torch.cat(scorer_gts) if scorer_gts else \
                    bases.new_zeros((0, ) + tuple(gt_size))
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
        outputs = []
        for i, (results,
                meta) in enumerate(zip(results_list, batch_img_metas)):
            boxes = results.bboxes
            rois = torch.cat([boxes.new_full((len(boxes), 1), i), boxes], 1)
            probs = self.instance_probs(bases, rois, results.param_preds)
            scores = (None, None)
            if self.scorer is not None:
                scores = self.scorer.predict(feats, rois, probs)
            outputs.append(
                self.finish(
                    results, probs, *scores, meta, rescale,
                    None if boundary_logits is None else boundary_logits[i]))
        return outputs

    def instance_probs(self, bases: Tensor, rois: Tensor,
                       param_preds: Tensor) -> Tensor:
        """The blender: ``(N, R, R)`` mask probabilities of the RoIs
        ``(N, 5)`` (network-input pixels) from the bases and each one's
        ``(N, K * M * M)`` attention."""
        return blend(
            pool_bases(bases, rois, self.pooler_size, 1. / self.basis_stride),
            self._attentions(param_preds)).sigmoid()

    def finish(self, results: InstanceData, probs: Tensor,
               iou: Optional[Tensor], boundary: Optional[Tensor], meta: dict,
               rescale: bool,
               boundary_logits: Optional[Tensor]) -> InstanceData:
        """One image's results from its detections and ``(N, R, R)`` mask
        probabilities, as Detectron2's post-processing of AdelaiDet's
        BlendMask: boxes rescaled, clipped to the image, empty ones
        dropped; masks pasted into the clipped boxes and binarised; Eq. (2);
        the boundary map ``(1, h, w)`` in the metainfo."""
        cfg = self.test_cfg
        thr = cfg.get('mask_thr_binary', cfg.get('mask_thr', 0.5))
        boxes = results.bboxes
        if rescale:
            height, width = meta['ori_shape'][:2]
            # as mmdet's _bbox_post_process (and Detectron2): times the
            # reciprocal, which rounds as Detectron2's output / input ratio
            boxes = scale_boxes(boxes, [1 / f for f in meta['scale_factor']])
        else:
            height, width = meta['img_shape'][:2]
        boxes = torch.stack([
            boxes[:, 0].clamp(0, width), boxes[:, 1].clamp(0, height),
            boxes[:, 2].clamp(0, width), boxes[:, 3].clamp(0, height)
        ], 1)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        out = InstanceData(
            bboxes=boxes[keep],
            scores=results.scores[keep],
            labels=results.labels[keep])
        if self.scorer is not None:
            if iou is not None:
                out.iou_scores = iou[keep]
            if boundary is not None:
                out.boundary_scores = boundary[keep]
            out.mask_scores = rescore(out.scores, out.get('iou_scores'),
                                      out.get('boundary_scores'))
        out.masks = paste_masks(probs[keep], out.bboxes, height, width, thr)
        if boundary_logits is not None:
            out.set_metainfo(
                dict(boundary_map=boundary_logits.detach().sigmoid()))
        return out
