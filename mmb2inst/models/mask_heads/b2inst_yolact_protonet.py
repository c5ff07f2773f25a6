"""YOLACT's protonet with the holistic boundary basis and the boundary-aware
mask scorer (B2Inst-YOLACT)."""
from typing import List, Optional, Sequence

import torch
from mmdet.models.dense_heads import YOLACTProtonet
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import InstanceList, OptInstanceList
from torch import Tensor

from mmb2inst.structures import box_crops, rescore
from ..utils import roi_align


def masks_in_boxes(mask_probs: Tensor, boxes: Tensor, img_meta: dict,
                   size: Sequence[int]) -> Tensor:
    """Resample full-image instance masks into their boxes.

    Args:
        mask_probs (Tensor): ``(h, w, N)`` probabilities at the prototype
            resolution, covering the padded network input.
        boxes (Tensor): ``(N, 4)`` boxes in network-input pixels.
        img_meta (dict): Meta information of the image
            (``batch_input_shape``, else ``img_shape``).
        size (Sequence[int]): Output ``(S_h, S_w)``.

    Returns:
        Tensor: ``(N, S_h, S_w)`` probabilities, RoIAligned (aligned,
        adaptive sampling) from the mask of each box's own instance.
    """
    h, w, num = mask_probs.shape
    if num == 0:
        return mask_probs.new_zeros((0, *size))
    pad_h, pad_w = (img_meta.get('batch_input_shape')
                    or img_meta['img_shape'])[:2]
    scale = boxes.new_tensor([w / pad_w, h / pad_h] * 2)
    # instance i is channel 0 of "image" i: one RoI per single-mask image
    index = torch.arange(num, device=boxes.device, dtype=boxes.dtype)
    rois = torch.cat([index[:, None], boxes * scale], 1)
    masks = mask_probs.permute(2, 0, 1)[:, None]  # roi_align copies it
    return roi_align(masks, rois, size, 1.0, 0, True)[:, 0]


@MODELS.register_module()
class B2InstYOLACTProtonet(YOLACTProtonet):
    """:class:`mmdet.models.dense_heads.YOLACTProtonet` plus a
    :class:`~mmb2inst.models.basis_heads.BoundaryBasis` and optionally a
    :class:`~mmb2inst.models.scoring.BoundaryAwareScorer`.

    The boundary branch reads the protonet's features before its last
    projection (the K prototypes). With ``boundary.use_as_basis`` the
    boundary probability map is appended to the prototypes, so each instance
    mask is ``sigmoid([P, B] @ c)`` with K+1 coefficients ``c`` from the
    detection head. With ``boundary=None`` this is exactly mmdet's
    ``YOLACTProtonet`` (same parameters, same outputs).

    With a ``scorer``, each instance's uncropped mask probabilities (at the
    prototype stride) are RoIAligned to the scorer's ``mask_size`` with its
    box: in training the matched GT box of every positive of YOLACT's mask
    loss (the scorer keeps a random subset), against the GT mask
    crop-and-resized with the same box; at test time the predicted box.
    Each result then holds ``iou_scores`` and/or ``boundary_scores``, and
    ``mask_scores`` = Eq. (2) (or MS / BS with one branch, see
    :func:`mmb2inst.structures.rescore`); ``scores`` stays the
    classification score of the box. mmdet's ``CocoMetric`` and our
    ``BoundaryAPMetric`` rank masks by ``mask_scores`` and boxes by
    ``scores``, as for Mask Scoring R-CNN.

    Args:
        boundary (dict, optional): Config of the ``BoundaryBasis``; its
            ``in_channels`` is filled in from ``proto_channels``.
        scorer (dict, optional): Config of the ``BoundaryAwareScorer``
            (its ``in_channels`` defaults to the FPN channels); it does
            not need ``boundary``.
        **kwargs: The arguments of ``YOLACTProtonet``.
    """

    def __init__(self,
                 *args,
                 boundary: Optional[dict] = None,
                 scorer: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.boundary = None
        self.scorer = None
        if scorer is not None:
            scorer = dict(scorer)
            scorer.setdefault('in_channels', self.in_channels)
            self.scorer = MODELS.build(scorer)
        if boundary is None:
            return
        # The last projection (conv to K prototypes, and its ReLU) comes
        # after the boundary branch; find where it starts.
        self.num_last = 2 if self.include_last_relu else 1
        tower_channels = [c for c in self.proto_channels[:-1] if c is not None]
        in_ch = tower_channels[-1] if tower_channels else self.in_channels
        boundary = dict(boundary)
        boundary.setdefault('in_channels', in_ch)
        boundary.setdefault('fpn_channels', self.in_channels)
        self.boundary = MODELS.build(boundary)
        # K prototypes, + 1 boundary basis (the detector sets the detection
        # head's coefficients to the same number).
        self.num_protos = self.proto_channels[-1] + int(
            self.boundary.use_as_basis)

    def loss(self,
             x: tuple,
             batch_data_samples: SampleList,
             positive_infos: OptInstanceList = None,
             **kwargs) -> dict:
        """mmdet's ``BaseMaskHead.loss``, handing the FPN features ``x`` on
        to :meth:`loss_by_feat` for the scorer."""
        return super().loss(
            x,
            batch_data_samples,
            positive_infos=positive_infos,
            feats=x,
            **kwargs)

    def predict(self,
                x: tuple,
                batch_data_samples: SampleList,
                rescale: bool = False,
                results_list: OptInstanceList = None,
                **kwargs) -> InstanceList:
        """mmdet's ``BaseMaskHead.predict``, handing the FPN features ``x``
        on to :meth:`predict_by_feat` for the scorer."""
        return super().predict(
            x,
            batch_data_samples,
            rescale=rescale,
            results_list=results_list,
            feats=x,
            **kwargs)

    def forward_bases(self, x: tuple) -> dict:
        """The K prototypes and the boundary map, for pictures (Fig. 8).

        Args:
            x (tuple[Tensor]): FPN levels, finest first.

        Returns:
            dict: ``bases`` ``(B, K, h, w)`` (the prototypes, without the
            boundary basis) and ``boundary`` ``(B, 1, h, w)`` probabilities
            or None, at the prototype stride.
        """
        if self.boundary is None:
            return dict(bases=self.protonet(x[0]), boundary=None)
        tower = self.protonet[:-self.num_last](x[0])
        tower, logits = self.boundary(tower, x)
        return dict(
            bases=self.protonet[-self.num_last:](tower),
            boundary=logits.sigmoid())

    def basis_maps(self, x: tuple) -> tuple:
        """The bases the masks are composed of and the boundary logits.

        Returns:
            tuple: ``bases`` ``(B, h, w, K')`` (the prototypes, and the
            boundary basis last when it is one) and ``boundary_logits``
            ``(B, 1, h, w)`` or None.
        """
        if self.boundary is None:
            return self.protonet(x[0]).permute(0, 2, 3, 1), None
        tower = self.protonet[:-self.num_last](x[0])
        tower, boundary_logits = self.boundary(tower, x)
        bases = self.protonet[-self.num_last:](tower)
        if self.boundary.use_as_basis:
            bases = torch.cat([bases,
                               self.boundary.as_basis(boundary_logits)],
                              dim=1)
        return bases.permute(0, 2, 3, 1), boundary_logits

    def forward(self, x: tuple, positive_infos: InstanceList) -> tuple:
        """
        Returns:
            tuple: ``mask_preds`` (list of ``(h, w, num_pos)`` sigmoid
            masks, uncropped), ``segm_preds`` (``(B, C, h', w')`` or None),
            ``boundary_logits`` (``(B, 1, h, w)``, None without boundary).
        """
        if self.boundary is None:
            return super().forward(x, positive_infos) + (None, )
        segm_preds = (
            self.segm_branch(x[0])
            if self.segm_branch is not None and self.training else None)
        bases, boundary_logits = self.basis_maps(x)
        mask_preds = [
            torch.sigmoid(bases[i] @ info.coeffs.t())
            for i, info in enumerate(positive_infos)
        ]
        return mask_preds, segm_preds, boundary_logits

    def loss_by_feat(self,
                     mask_preds: List[Tensor],
                     segm_preds: Tensor,
                     boundary_logits: Optional[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     positive_infos: InstanceList,
                     feats: Optional[tuple] = None,
                     **kwargs) -> dict:
        """YOLACT's mask and semantic losses, plus the boundary loss and the
        scoring losses (``loss_score_iou``, ``loss_score_boundary``)."""
        losses = super().loss_by_feat(mask_preds, segm_preds,
                                      batch_gt_instances, batch_img_metas,
                                      positive_infos, **kwargs)
        if self.boundary is not None:
            losses.update(
                self.boundary.loss(boundary_logits, batch_gt_instances,
                                   batch_img_metas))
        if self.scorer is not None:
            losses.update(
                self._scorer_loss(feats, mask_preds, batch_gt_instances,
                                  batch_img_metas, positive_infos))
        return losses

    def _scorer_loss(self, feats: tuple, mask_preds: List[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     positive_infos: InstanceList) -> dict:
        """The scorer's losses on every positive, pooled with its matched GT
        box (``positive_infos[i].bboxes``)."""
        size = self.scorer.mask_size
        rois, probs, targets = [], [], []
        with torch.no_grad():
            for i, (preds, gt, info, meta) in enumerate(
                    zip(mask_preds, batch_gt_instances, positive_infos,
                        batch_img_metas)):
                if preds.size(-1) == 0 or len(gt) == 0:
                    continue
                boxes = get_box_tensor(info.bboxes).float()
                rois.append(
                    torch.cat([boxes.new_full((len(boxes), 1), i), boxes], 1))
                probs.append(masks_in_boxes(preds, boxes, meta, size))
                # Positives share GT boxes: crop each GT mask once.
                crops = box_crops(gt.masks, gt.bboxes, size, boxes.device)
                targets.append(crops[info.pos_assigned_gt_inds])
        if not rois:
            empty = feats[0].new_zeros((0, *size))
            return self.scorer.loss(feats, feats[0].new_zeros((0, 5)), empty,
                                    empty)
        return self.scorer.loss(feats, torch.cat(rois), torch.cat(probs),
                                torch.cat(targets))

    def predict_by_feat(self,
                        mask_preds: List[Tensor],
                        segm_preds: Tensor,
                        boundary_logits: Optional[Tensor],
                        results_list: InstanceList,
                        batch_img_metas: List[dict],
                        rescale: bool = True,
                        feats: Optional[tuple] = None,
                        **kwargs) -> InstanceList:
        """YOLACT's mask results; the boundary map ``(1, h, w)`` (stride of
        the prototypes) rides along in each result's metainfo as
        ``boundary_map`` for the detector to put into the data sample.

        With the scorer, each result also holds ``iou_scores`` and/or
        ``boundary_scores`` and ``mask_scores`` (:math:`S_{mask}`), ``(N,)``
        each.
        """
        # YOLACT rescales the boxes in place; the scorer needs them in
        # network-input pixels, as the FPN features and mask_preds are.
        input_boxes = [
            get_box_tensor(r.bboxes).float().clone() for r in results_list
        ] if self.scorer is not None else None
        results_list = super().predict_by_feat(mask_preds, segm_preds,
                                               results_list, batch_img_metas,
                                               rescale, **kwargs)
        if boundary_logits is not None:
            for results, logits in zip(results_list, boundary_logits):
                results.set_metainfo(dict(boundary_map=logits.sigmoid()))
        if self.scorer is not None:
            self._rescore(feats, mask_preds, input_boxes, results_list,
                          batch_img_metas)
        return results_list

    def _rescore(self, feats: tuple, mask_preds: List[Tensor],
                 input_boxes: List[Tensor], results_list: InstanceList,
                 batch_img_metas: List[dict]) -> None:
        """Score the masks of all images in one scorer call and rescore
        ``results_list`` in place."""
        size = self.scorer.mask_size
        rois, probs = [], []
        for i, (preds, boxes, meta) in enumerate(
                zip(mask_preds, input_boxes, batch_img_metas)):
            rois.append(
                torch.cat([boxes.new_full((len(boxes), 1), i), boxes], 1))
            probs.append(masks_in_boxes(preds, boxes, meta, size))
        iou, boundary = self.scorer.predict(feats, torch.cat(rois),
                                            torch.cat(probs))
        counts = [len(boxes) for boxes in input_boxes]
        ious = iou.split(counts) if iou is not None else [None] * len(counts)
        boundaries = (
            boundary.split(counts) if boundary is not None else [None] *
            len(counts))
        for results, iou_i, boundary_i in zip(results_list, ious, boundaries):
            if iou_i is not None:
                results.iou_scores = iou_i
            if boundary_i is not None:
                results.boundary_scores = boundary_i
            results.mask_scores = rescore(results.scores, iou_i, boundary_i)
