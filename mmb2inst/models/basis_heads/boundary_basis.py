"""The holistic boundary basis of B2Inst (paper §4.1, Fig. 3, Table 2).

One module serves every basis-based host (YOLACT's protonet, BlendMask's
basis module): the host gives it the features of its basis tower (before the
last projection to K bases) and its FPN features; the module predicts an
image-level boundary map, supervises it, and optionally hands it back as the
(K+1)-th basis. The Table 2 designs are its options:

======  ===========  ========  ============
design  supervision  fusion    use_as_basis
======  ===========  ========  ============
(a)     local        single    False
(b)     global       multi     False
(c)     global       multi     True
(d)     global       single    False
(e)     global       single    True
======  ===========  ========  ============
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import InstanceList, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from mmb2inst.errors import ConfigError
from mmb2inst.structures import (box_crops, image_boundary_map,
                                 laplacian_boundary, pool_boundary_map)
from ..utils import roi_align, with_defaults

SUPERVISIONS = ('global', 'local')
FUSIONS = ('single', 'multi')
BASIS_FORMS = ('probability', 'logits', 'affine')
# Design (a): RoI size of the local supervision (BMask R-CNN's mask size);
# its targets are drawn at LOCAL_UPSAMPLE times that size and pooled down.
LOCAL_SIZE = 28
LOCAL_UPSAMPLE = 4
DEFAULT_LOSS = dict(type='BoundaryLoss')
# Where mmb2inst's configs put this module, for the error messages.
CFG_KEY = 'model.mask_head.boundary'


def _choices(values: Sequence[str]) -> str:
    return ', '.join(repr(v) for v in values)


@MODELS.register_module()
class BoundaryBasis(BaseModule):
    """Predicts the holistic boundary map from a basis tower.

    The boundary logits ``(B, 1, h, w)`` are predicted at the basis
    resolution from the basis tower's features (and, with
    ``fusion='multi'``, from FPN levels) and supervised by
    ``loss_boundary`` against the Laplacian boundaries of the GT masks:
    with ``supervision='global'``, of all instances of the image, each
    taken at the input resolution, merged with a max and max-pooled to the
    map (:func:`~mmb2inst.structures.image_boundary_map`,
    :func:`~mmb2inst.structures.pool_boundary_map`); with ``'local'``, the
    map RoI-aligned by each GT box to 28 x 28 against that instance's
    boundary (drawn at 4x and pooled).

    Args:
        in_channels (int): Channels of the basis tower features.
        feat_channels (int): Channels of the boundary branch. Defaults to
            128.
        supervision (str): ``'global'`` (default) or ``'local'`` (BMask
            R-CNN's, design (a)).
        fusion (str): ``'single'`` (default): predict from the basis tower
            alone. ``'multi'``: BMask R-CNN's fusion, boundary features from
            the FPN levels ``fusion_levels`` and the basis tower exchange
            information in both directions through 1x1 convs.
        use_as_basis (bool): Hand the boundary map to the host as the
            (K+1)-th basis. Defaults to True.
        basis_form (str): What that basis is: ``'probability'`` (default),
            the boundary probabilities in [0, 1]; ``'logits'``, the boundary
            logits; ``'affine'``, ``a * p + b`` with a learned scale and
            shift (initialised to 1 and 0).
        num_convs (int): 3x3 conv + ReLU layers of the boundary branch
            before its 1x1 predictor. Defaults to 0: the boundary is one
            more output channel of the basis tower's last layer;
            ``fusion='multi'`` has at least one.
        fpn_channels (int): Channels of the FPN features (``'multi'``).
            Defaults to 256.
        fusion_levels (Sequence[int]): FPN levels fused (``'multi'``).
            Defaults to (0, 1, 2).
        loss_boundary (dict): The boundary loss. Defaults to
            ``BoundaryLoss``.
        init_cfg (dict | list[dict]): Defaults to Kaiming convs and a
            ``Normal(std=0.01)`` 1-channel predictor with bias 0, as mmdet's
            prediction layers.
    """

    def __init__(
        self,
        in_channels: int,
        feat_channels: int = 128,
        supervision: str = 'global',
        fusion: str = 'single',
        use_as_basis: bool = True,
        basis_form: str = 'probability',
        num_convs: int = 0,
        fpn_channels: int = 256,
        fusion_levels: Sequence[int] = (0, 1, 2),
        loss_boundary: dict = DEFAULT_LOSS,
        init_cfg: OptMultiConfig = (dict(type='Kaiming', layer='Conv2d'),
                                    dict(
                                        type='Normal',
                                        std=0.01,
                                        bias=0.,
                                        override=dict(name='boundary_pred')))
    ) -> None:
        super().__init__(
            init_cfg=list(init_cfg) if isinstance(init_cfg, tuple
                                                  ) else init_cfg)
        if supervision not in SUPERVISIONS:
            raise ConfigError(
                f'{CFG_KEY}.supervision={supervision!r} is not one of '
                f"{_choices(SUPERVISIONS)} (Table 2: 'local' is design (a), "
                "'global' designs (b)-(e)).")
        if fusion not in FUSIONS:
            raise ConfigError(
                f'{CFG_KEY}.fusion={fusion!r} is not one of '
                f"{_choices(FUSIONS)} (Table 2: 'multi' is designs (b) and "
                "(c), 'single' the others).")
        if basis_form not in BASIS_FORMS:
            raise ConfigError(
                f'{CFG_KEY}.basis_form={basis_form!r} is not one of '
                f'{_choices(BASIS_FORMS)}.')
        self.supervision = supervision
        self.fusion = fusion
        self.use_as_basis = use_as_basis
        self.basis_form = basis_form
        if basis_form == 'affine':
            self.basis_scale = nn.Parameter(torch.ones(()))
            self.basis_shift = nn.Parameter(torch.zeros(()))
        self.fusion_levels = tuple(fusion_levels)
        if fusion == 'multi':
            self.laterals = nn.ModuleList(
                nn.Conv2d(fpn_channels, feat_channels, 1)
                for _ in self.fusion_levels)
            self.basis_to_boundary = nn.Conv2d(in_channels, feat_channels, 1)
            self.boundary_to_basis = nn.Conv2d(feat_channels, in_channels, 1)
            num_convs = max(num_convs, 1)
            channels = feat_channels
        else:
            channels = in_channels
        convs = []
        for _ in range(num_convs):
            convs += [
                nn.Conv2d(channels, feat_channels, 3, padding=1),
                nn.ReLU(inplace=True)
            ]
            channels = feat_channels
        self.boundary_convs = nn.Sequential(*convs)
        self.boundary_pred = nn.Conv2d(channels, 1, 1)
        self.loss_boundary = MODELS.build(
            with_defaults(loss_boundary, DEFAULT_LOSS))

    def forward(self, basis_feat: Tensor,
                fpn_feats: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """
        Args:
            basis_feat (Tensor): ``(B, C, h, w)`` basis tower features,
                before the host's last projection to its K bases.
            fpn_feats (Sequence[Tensor]): FPN levels, finest first.

        Returns:
            tuple: ``basis_feat`` (``(B, C, h, w)``, changed only by the
            multi-scale fusion) and the boundary logits ``(B, 1, h, w)``.
        """
        if self.fusion == 'multi':
            size = basis_feat.shape[-2:]
            feat = self.basis_to_boundary(basis_feat)
            for lateral, level in zip(self.laterals, self.fusion_levels):
                feat = feat + F.interpolate(
                    lateral(fpn_feats[level]),
                    size,
                    mode='bilinear',
                    align_corners=False)
            feat = self.boundary_convs(feat)
            basis_feat = basis_feat + self.boundary_to_basis(feat)
        else:
            feat = self.boundary_convs(basis_feat)
        return basis_feat, self.predict_logits(feat)

    def predict_logits(self, feat: Tensor) -> Tensor:
        """``boundary_pred`` (a 1x1 conv to one channel) on ``(B, C, h,
        w)`` features, computed as one matrix product over the pixels: the
        conv's logits to float rounding, in a quarter of the time of
        oneDNN's one-output-channel convolution on CPU."""
        pred = self.boundary_pred
        num, _, height, width = feat.shape
        logits = torch.matmul(pred.weight.flatten(1), feat.flatten(2))
        return (logits + pred.bias[:, None]).view(num, 1, height, width)

    def as_basis(self, boundary_logits: Tensor) -> Tensor:
        """The boundary basis given to the mask assembler, ``(B, 1, h, w)``
        (see ``basis_form``)."""
        if self.basis_form == 'logits':
            return boundary_logits
        prob = boundary_logits.sigmoid()
        if self.basis_form == 'affine':
            return self.basis_scale * prob + self.basis_shift
        return prob

    def get_global_targets(self, batch_gt_instances: InstanceList,
                           size: Tuple[int, int], device) -> Tensor:
        """Image-level boundary targets ``(B, 1, h, w)``: the Laplacian
        boundary of each GT mask at the input resolution, merged over the
        instances of each image and max-pooled to ``size``."""
        return torch.stack([
            pool_boundary_map(
                image_boundary_map(gt.masks, device=device), size)[None]
            for gt in batch_gt_instances
        ])

    def loss(self, boundary_logits: Tensor, batch_gt_instances: InstanceList,
             batch_img_metas: List[dict]) -> dict:
        """Boundary loss of the map ``(B, 1, h, w)``: ``loss_boundary``."""
        if self.supervision == 'global':
            with torch.no_grad():
                targets = self.get_global_targets(batch_gt_instances,
                                                  boundary_logits.shape[-2:],
                                                  boundary_logits.device)
            return dict(
                loss_boundary=self.loss_boundary(boundary_logits, targets))
        return dict(
            loss_boundary=self._local_loss(boundary_logits, batch_gt_instances,
                                           batch_img_metas))

    def _local_loss(self, boundary_logits: Tensor,
                    batch_gt_instances: InstanceList,
                    batch_img_metas: List[dict]) -> Tensor:
        """Design (a): the map RoI-pooled by each GT box against the
        Laplacian boundary of that instance's mask cropped to the box."""
        h, w = boundary_logits.shape[-2:]
        size = (LOCAL_SIZE, LOCAL_SIZE)
        rois, targets = [], []
        for i, (gt,
                meta) in enumerate(zip(batch_gt_instances, batch_img_metas)):
            if len(gt) == 0:
                continue
            pad_h, pad_w = meta.get('batch_input_shape', meta['pad_shape'])
            boxes = get_box_tensor(gt.bboxes).float()
            scale = boxes.new_tensor([w / pad_w, h / pad_h] * 2)
            rois.append(
                torch.cat([boxes.new_full((len(boxes), 1), i), boxes * scale],
                          1))
            big = tuple(LOCAL_UPSAMPLE * s for s in size)
            targets.append(
                pool_boundary_map(
                    laplacian_boundary(box_crops(gt.masks, boxes, big)), size))
        if not rois:
            return boundary_logits.sum() * 0.
        pooled = roi_align(boundary_logits, torch.cat(rois), size, 1.0, 0)
        return self.loss_boundary(pooled[:, 0], torch.cat(targets))
