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
                                 laplacian_boundary, masks_at,
                                 pool_boundary_map)
from ..utils import roi_align, with_defaults

SUPERVISIONS = ('global', 'local', 'none')
FUSIONS = ('single', 'multi')
TARGETS = ('pooled', 'resized')
BASIS_FORMS = ('probability', 'logits', 'affine')
# Local targets (design (a)) are drawn at this many times the RoI size and
# pooled down, as the global ones are pooled from the input resolution.
LOCAL_UPSAMPLE = 4
DEFAULT_LOSS = dict(type='BoundaryLoss')
# Where mmb2inst's configs put this module, for the error messages.
CFG_KEY = 'model.mask_head.boundary'


def _choices(values: Sequence[str]) -> str:
    return ', '.join(repr(v) for v in values)


@MODELS.register_module()
class BoundaryBasis(BaseModule):
    """Predicts the holistic boundary map from a basis tower.

    Args:
        in_channels (int): Channels of the basis tower features.
        feat_channels (int): Channels of the boundary branch.
        supervision (str): ``'global'`` (the loss on the whole map against
            the image-level Laplacian boundaries of all GT masks),
            ``'local'`` (on the map RoI-pooled by each GT box, against that
            instance's boundary, as BMask R-CNN) or ``'none'``.
        fusion (str): ``'single'`` (predict from the basis tower alone) or
            ``'multi'`` (BMask R-CNN's fusion: boundary features from
            several FPN levels exchange information with the basis tower in
            both directions through 1x1 convs).
        use_as_basis (bool): Hand the boundary map to the host as an extra
            basis, so instance masks are composed of K+1 bases.
        basis_form (str): What the extra basis is. ``'probability'``
            (default): the boundary probabilities in [0, 1], the value range
            of YOLACT's ReLU'd prototypes (its signed coefficients can add
            or subtract them). ``'logits'``: the boundary logits, unbounded
            like BlendMask's bases; BlendMask blends with a softmax over the
            bases, a convex combination, so a [0, 1] basis can only pull a
            mask logit into [0, 1] and never mark background. ``'affine'``:
            ``a * p + b`` with a learned scale and shift (initialised to 1
            and 0).
        num_convs (int): 3x3 conv + ReLU layers of the boundary branch
            before its 1x1 predictor. With the default 0 and
            ``fusion='single'`` the boundary is one more output channel of
            the basis tower's last layer, as the paper's basis head ("the
            last layer reduces the channel-size to K"), at no measurable
            cost; ``fusion='multi'`` always has at least one.
        fpn_channels (int): Channels of the FPN features (``fusion='multi'``).
        fusion_levels (Sequence[int]): FPN levels fused (``'multi'``).
        local_size (int): RoI size of the local supervision.
        targets (str): How the boundary targets reach the map's resolution.
            ``'pooled'`` (default): the Laplacian boundary of each GT mask
            at the input resolution (for design (a): of the mask cropped at
            4x the RoI size), merged over instances and max-pooled to the
            map, so that a cell is boundary when any of its pixels is and
            thin parts keep their boundary. ``'resized'``: the GT masks
            resampled to the map (bilinear, > 0.5) and their Laplacian taken
            there, as YOLACT resamples its mask targets; parts thinner than
            a cell drop out of the targets.
        loss_boundary (dict): The boundary loss (BCE + Dice + crisp).
        init_cfg (dict | list[dict]): Kaiming convs, and the 1-channel
            predictor ``Normal(std=0.01)`` with bias 0 as mmdet's prediction
            layers: Kaiming's ``fan_out`` of a 1-channel conv is 1, which
            gives weights of std sqrt(2) and logits of std 7-10 at step 0
            (most pixels saturated). ``[dict(type='Kaiming',
            layer='Conv2d')]`` restores that earlier initialisation. The
            B2Inst-YOLACT configs set the predictor's entry to Xavier
            uniform, as mmdet's ``YOLACTProtonet`` projection
            (docs/design.md).
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
        local_size: int = 28,
        targets: str = 'pooled',
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
        if targets not in TARGETS:
            raise ConfigError(f'{CFG_KEY}.targets={targets!r} is not one of '
                              f'{_choices(TARGETS)}.')
        if supervision == 'none' and not use_as_basis:
            raise ConfigError(
                f"{CFG_KEY}.supervision='none' with {CFG_KEY}.use_as_basis="
                'False leaves the boundary branch without any effect; set '
                "supervision to 'global' or 'local', or use_as_basis=True, "
                f'or drop {CFG_KEY}.')
        self.supervision = supervision
        self.fusion = fusion
        self.use_as_basis = use_as_basis
        self.basis_form = basis_form
        if basis_form == 'affine':
            self.basis_scale = nn.Parameter(torch.ones(()))
            self.basis_shift = nn.Parameter(torch.zeros(()))
        self.fusion_levels = tuple(fusion_levels)
        self.local_size = local_size
        self.targets = targets
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
        self.loss_boundary = (
            MODELS.build(with_defaults(loss_boundary, DEFAULT_LOSS))
            if supervision != 'none' else None)

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
        return basis_feat, self.boundary_pred(feat)

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
        boundary of each GT mask, merged over the instances of each image,
        at the map's resolution (see ``targets``)."""
        maps = []
        for gt in batch_gt_instances:
            if self.targets == 'pooled':
                full = image_boundary_map(gt.masks, device=device)
                maps.append(pool_boundary_map(full, size)[None])
            else:
                maps.append(
                    image_boundary_map(
                        masks_at(gt.masks, size, device),
                        out_shape=size)[None])
        return torch.stack(maps)

    def loss(self, boundary_logits: Tensor, batch_gt_instances: InstanceList,
             batch_img_metas: List[dict]) -> dict:
        """Boundary loss of the map ``(B, 1, h, w)``."""
        if self.supervision == 'none':
            return dict()
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
        size = (self.local_size, self.local_size)
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
            if self.targets == 'pooled':
                big = tuple(LOCAL_UPSAMPLE * s for s in size)
                targets.append(
                    pool_boundary_map(
                        laplacian_boundary(box_crops(gt.masks, boxes, big)),
                        size))
            else:
                targets.append(
                    laplacian_boundary(box_crops(gt.masks, boxes, size)))
        if not rois:
            return boundary_logits.sum() * 0.
        pooled = roi_align(boundary_logits, torch.cat(rois), size, 1.0, 0)
        return self.loss_boundary(pooled[:, 0], torch.cat(targets))
