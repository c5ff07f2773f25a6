# Copyright (c) mmb2inst contributors. All rights reserved.
"""The holistic boundary loss of B2Inst (§4.1, "Objective function")."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses.dice_loss import dice_loss
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from torch import Tensor

from mmb2inst.errors import ConfigError

# Where mmb2inst's configs put this loss, for the error messages.
CFG_KEY = 'model.mask_head.boundary.loss_boundary'

CRISP_DISTANCES = ('bounded', 'ratio')
WCE_REDUCTIONS = ('balanced_mean', 'sum')


@MODELS.register_module()
class BoundaryLoss(nn.Module):
    r"""BCE + Dice + crisp-boundary loss on predicted boundary maps (§4.1).

    The paper's three terms: "1) binary cross-entropy loss, 2) dice loss,
    and 3) boundary loss [13]", [13] being Deng et al., "Learning to predict
    crisp boundaries" (ECCV 2018). Per image, with :math:`p = \sigma(x)` the
    predicted boundary probabilities, :math:`g` the binary target and
    :math:`N` the number of pixels:

    - ``bce``: binary cross-entropy with logits, averaged over pixels.
    - ``dice``: :math:`1 - \frac{2 \sum pg + \epsilon}
      {\sum p + \sum g + \epsilon}` (mmdet's ``dice_loss`` with
      ``naive_dice=True``).
    - ``crisp``: Deng et al.'s :math:`\alpha L_{wce} + \beta L_{dist}`,
      built on their Dice distance
      :math:`D = \frac{\sum p^2 + \sum g^2 + \epsilon}
      {2 \sum pg + \epsilon} \geq 1` and HED's class-balanced
      cross-entropy :math:`-\gamma \sum_{g=1} \log p - (1 - \gamma)
      \sum_{g=0} \log (1 - p)`, :math:`\gamma` the fraction of negative
      pixels.

      - ``crisp_distance='bounded'``: :math:`L_{dist} = 1 - 1/D \in
        [0, 1)`; ``'ratio'``: :math:`L_{dist} = D - 1`, as Deng et al.
        write it (unbounded).
      - ``crisp_wce_reduction='balanced_mean'``: :math:`L_{wce}` divided by
        the sum of its weights (:math:`2 N_+ N_- / N`), the mean of the
        positive and the negative pixels' mean cross-entropy;
        ``'sum'``: the sum over pixels, as HED and Deng et al.

    The loss is ``loss_weight * (bce + dice + crisp)``, averaged over the
    images of the batch, computed in float32 whatever the input dtype.

    Args:
        crisp_alpha (float): :math:`\alpha`. Defaults to 1.0.
        crisp_beta (float): :math:`\beta`. Defaults to 1.0.
        crisp_distance (str): ``'bounded'`` (default) or ``'ratio'``.
        crisp_wce_reduction (str): ``'balanced_mean'`` (default) or
            ``'sum'``.
        eps (float): :math:`\epsilon` of the Dice term and of :math:`D`.
            Defaults to 1.0.
        loss_weight (float): Weight of the whole loss. Defaults to 1.0.
    """

    def __init__(self,
                 crisp_alpha: float = 1.0,
                 crisp_beta: float = 1.0,
                 crisp_distance: str = 'bounded',
                 crisp_wce_reduction: str = 'balanced_mean',
                 eps: float = 1.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if crisp_distance not in CRISP_DISTANCES:
            raise ConfigError(
                f'{CFG_KEY}.crisp_distance={crisp_distance!r} is not one of '
                f'{CRISP_DISTANCES}')
        if crisp_wce_reduction not in WCE_REDUCTIONS:
            raise ConfigError(
                f'{CFG_KEY}.crisp_wce_reduction={crisp_wce_reduction!r} is '
                f'not one of {WCE_REDUCTIONS}')
        self.crisp_alpha = crisp_alpha
        self.crisp_beta = crisp_beta
        self.crisp_distance = crisp_distance
        self.crisp_wce_reduction = crisp_wce_reduction
        self.eps = eps
        self.loss_weight = loss_weight

    def _per_image(self, pred: Tensor,
                   target: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Unweighted terms of each image.

        Args:
            pred (Tensor): Boundary logits of shape (N, H, W) or
                (N, 1, H, W).
            target (Tensor): Binary boundary targets with the same number
                of elements as ``pred``.

        Returns:
            tuple[Tensor]: ``bce``, ``dice`` and ``crisp``, each of shape
            (N,), float32.
        """
        if pred.numel() != target.numel():
            raise ValueError(f'pred {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} differ in size')
        with torch.autocast(pred.device.type, enabled=False):
            logits = pred.flatten(1).float()
            target = target.reshape(logits.shape).float()
            prob = logits.sigmoid()

            bce = F.binary_cross_entropy_with_logits(
                logits, target, reduction='none').mean(1)
            dice = dice_loss(
                prob, target, eps=self.eps, reduction='none', naive_dice=True)

            # HED's class balance: positives weighted by the fraction of
            # negatives and vice versa. An all-negative or all-positive map
            # gets weight 0 on its only class, so the term is 0, not NaN.
            neg_frac = 1 - target.mean(1, keepdim=True)
            balance = target * neg_frac + (1 - target) * (1 - neg_frac)
            wce = F.binary_cross_entropy_with_logits(
                logits, target, weight=balance, reduction='none').sum(1)
            if self.crisp_wce_reduction == 'balanced_mean':
                wce = wce / balance.sum(1).clamp(min=1e-6)

            inter = (prob * target).sum(1)
            if self.crisp_distance == 'bounded':
                squares = (prob**2).sum(1) + target.sum(1)  # g^2 == g
                dist = 1 - (2 * inter + self.eps) / (squares + self.eps)
            else:
                # D - 1, computed as sum (p - g)^2 / (2 sum pg + eps), which
                # equals it and does not cancel.
                dist = ((prob - target)**2).sum(1) / (2 * inter + self.eps)
            crisp = self.crisp_alpha * wce + self.crisp_beta * dist
        return bce, dice, crisp

    def components(self, pred: Tensor, target: Tensor) -> Dict[str, Tensor]:
        """The unweighted terms averaged over images, for logging.

        Args:
            pred (Tensor): Boundary logits of shape (N, H, W) or
                (N, 1, H, W).
            target (Tensor): Binary targets of the same shape.

        Returns:
            dict[str, Tensor]: Scalars ``bce``, ``dice`` and ``crisp``.
        """
        if pred.size(0) == 0:
            zero = pred.sum() * 0
            return dict(bce=zero, dice=zero, crisp=zero)
        bce, dice, crisp = self._per_image(pred, target)
        return dict(bce=bce.mean(), dice=dice.mean(), crisp=crisp.mean())

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Boundary logits of shape (N, H, W) or
                (N, 1, H, W).
            target (Tensor): Binary targets of the same shape.
            weight (Tensor, optional): Per-image weights of shape (N,).
            avg_factor (float, optional): Divide the weighted sum over
                images by this instead of N.

        Returns:
            Tensor: The scalar loss. With N == 0 it is ``pred.sum() * 0``,
            so the graph stays connected.
        """
        if pred.size(0) == 0:
            return pred.sum() * 0
        bce, dice, crisp = self._per_image(pred, target)
        loss = bce + dice + crisp
        if weight is not None:
            weight = weight.reshape(loss.shape).to(loss.dtype)
        loss = weight_reduce_loss(
            loss, weight, reduction='mean', avg_factor=avg_factor)
        return self.loss_weight * loss
