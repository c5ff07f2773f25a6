"""YOLACT's protonet with the holistic boundary basis (B2Inst-YOLACT)."""
from typing import List, Optional

import torch
from mmdet.models.dense_heads import YOLACTProtonet
from mmdet.registry import MODELS
from mmdet.utils import InstanceList
from torch import Tensor


@MODELS.register_module()
class B2InstYOLACTProtonet(YOLACTProtonet):
    """:class:`mmdet.models.dense_heads.YOLACTProtonet` plus a
    :class:`~mmb2inst.models.basis_heads.BoundaryBasis`.

    The boundary branch reads the protonet's features before its last
    projection (the K prototypes). With ``boundary.use_as_basis`` the
    boundary probability map is appended to the prototypes, so each instance
    mask is ``sigmoid([P, B] @ c)`` with K+1 coefficients ``c`` from the
    detection head. With ``boundary=None`` this is exactly mmdet's
    ``YOLACTProtonet`` (same parameters, same outputs).

    Args:
        boundary (dict, optional): Config of the ``BoundaryBasis``; its
            ``in_channels`` is filled in from ``proto_channels``.
        num_protos (int): Number of bases the masks are composed of,
            including the boundary basis when it is used as one; must equal
            the detection head's ``num_protos`` (coefficients per anchor).
        **kwargs: The arguments of ``YOLACTProtonet``.
    """

    def __init__(self,
                 *args,
                 boundary: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.boundary = None
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
        num_bases = self.proto_channels[-1] + int(self.boundary.use_as_basis)
        if self.num_protos != num_bases:
            extra = ' + 1 boundary basis' if self.boundary.use_as_basis else ''
            raise ValueError(
                f'B2InstYOLACTProtonet: num_protos={self.num_protos}, but '
                f'the masks are composed of {num_bases} bases '
                f'({self.proto_channels[-1]} prototypes{extra}). Set '
                f'mask_head.num_protos and bbox_head.num_protos to '
                f'{num_bases}.')

    def forward(self, x: tuple, positive_infos: InstanceList) -> tuple:
        """
        Returns:
            tuple: ``mask_preds`` (list of ``(h, w, num_pos)`` sigmoid
            masks, uncropped), ``segm_preds`` (``(B, C, h', w')`` or None),
            ``boundary_logits`` (``(B, 1, h, w)``, None without boundary).
        """
        if self.boundary is None:
            return super().forward(x, positive_infos) + (None, )
        single_x = x[0]
        segm_preds = (
            self.segm_branch(single_x)
            if self.segm_branch is not None and self.training else None)
        tower = self.protonet[:-self.num_last](single_x)
        tower, boundary_logits = self.boundary(tower, x)
        bases = self.protonet[-self.num_last:](tower)
        if self.boundary.use_as_basis:
            bases = torch.cat([bases,
                               self.boundary.as_basis(boundary_logits)],
                              dim=1)
        bases = bases.permute(0, 2, 3, 1)
        mask_preds = [
            torch.sigmoid(bases[i] @ info.coeffs.t())
            for i, info in enumerate(positive_infos)
        ]
        return mask_preds, segm_preds, boundary_logits

    def loss_by_feat(self, mask_preds: List[Tensor], segm_preds: Tensor,
                     boundary_logits: Optional[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict], positive_infos: InstanceList,
                     **kwargs) -> dict:
        """YOLACT's mask and semantic losses, plus the boundary loss."""
        losses = super().loss_by_feat(mask_preds, segm_preds,
                                      batch_gt_instances, batch_img_metas,
                                      positive_infos, **kwargs)
        if self.boundary is not None:
            losses.update(
                self.boundary.loss(boundary_logits, batch_gt_instances,
                                   batch_img_metas))
        return losses

    def predict_by_feat(self,
                        mask_preds: List[Tensor],
                        segm_preds: Tensor,
                        boundary_logits: Optional[Tensor],
                        results_list: InstanceList,
                        batch_img_metas: List[dict],
                        rescale: bool = True,
                        **kwargs) -> InstanceList:
        """YOLACT's mask results; the boundary map ``(1, h, w)`` (stride of
        the prototypes) rides along in each result's metainfo as
        ``boundary_map`` for the detector to put into the data sample."""
        results_list = super().predict_by_feat(mask_preds, segm_preds,
                                               results_list, batch_img_metas,
                                               rescale, **kwargs)
        if boundary_logits is not None:
            for results, logits in zip(results_list, boundary_logits):
                results.set_metainfo(dict(boundary_map=logits.sigmoid()))
        return results_list
