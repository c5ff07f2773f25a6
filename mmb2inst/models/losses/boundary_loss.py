# Copyright (c) mmb2inst contributors. All rights reserved.
"""The holistic boundary loss of B2Inst (§4.1, "Objective function")."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses.dice_loss import dice_loss
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from mmengine.logging import MessageHub
from torch import Tensor

from mmb2inst.errors import ConfigError

# Where mmb2inst's configs put this loss, for the error messages.
CFG_KEY = 'model.mask_head.boundary.loss_boundary'

CRISP_DISTANCES = ('bounded', 'ratio')
WCE_REDUCTIONS = ('balanced_mean', 'sum')


@MODELS.register_module()
class BoundaryLoss(nn.Module):
    r"""BCE + Dice + crisp-boundary loss on predicted boundary maps.

    B2Inst supervises its boundary basis with "three different loss
    functions in total: 1) binary cross-entropy loss, 2) dice loss, and
    3) boundary loss [13]", [13] being Deng et al., "Learning to predict
    crisp boundaries", ECCV 2018. Per image, with :math:`p = \sigma(x)` the
    predicted boundary probabilities, :math:`g` the binary target and
    :math:`N` the number of pixels:

    - ``bce``: binary cross-entropy with logits, averaged over pixels.
    - ``dice``: :math:`1 - \frac{2 \sum pg + \epsilon}
      {\sum p + \sum g + \epsilon}` (mmdet's ``dice_loss`` with
      ``naive_dice=True``).
    - ``crisp``: Deng et al.'s loss :math:`\alpha L_{wce} + \beta L_{dist}`
      built on their Dice distance
      :math:`D = \frac{\sum p^2 + \sum g^2 + \epsilon}
      {2 \sum pg + \epsilon} \geq 1` (equality iff :math:`p = g`) and
      HED's class-balanced cross-entropy
      :math:`-\gamma \sum_{g=1} \log p - (1 - \gamma) \sum_{g=0}
      \log (1 - p)`, :math:`\gamma` the fraction of negative pixels.

      - ``crisp_distance='bounded'`` (default): :math:`L_{dist} = 1 - 1/D
        = 1 - \frac{2 \sum pg + \epsilon}{\sum p^2 + \sum g^2 +
        \epsilon} \in [0, 1)`, the same order on predictions and the same
        minimum as :math:`D`, with the gradient :math:`\nabla D / D^2`.
        ``'ratio'``: :math:`L_{dist} = D - 1` as Deng et al. write it,
        unbounded: at :math:`p = 0.5` it is about :math:`0.25 N /
        \sum g`, its gradient on a boundary pixel grows like
        :math:`N / (\sum g)^2`, and it tends to infinity when the
        prediction misses the boundary (:math:`\sum pg \to 0`). On COCO
        (a 200 x 272 map at stride 4, ~2% boundary pixels) it pulls tens
        to hundreds of times harder than every other loss and made
        B2Inst-YOLACT diverge within 12 SGD iterations.
      - ``crisp_wce_reduction='balanced_mean'`` (default): the balanced
        cross-entropy divided by the sum of its weights
        (:math:`2 N_+ N_- / N`), i.e. the mean of the positive and the
        negative pixels' mean cross-entropy, independent of the map size.
        ``'sum'``: the plain sum over pixels (HED, Deng et al.), whose
        scale grows with the image area (x50 from the toy to COCO).

    The terms are computed in float32 whatever the input dtype (sums over
    ~10^5 pixels overflow float16). They are averaged over the images of
    the batch and summed: ``loss_weight * (bce_weight * bce + dice_weight *
    dice + crisp_weight * crisp)``, times a warm-up factor when
    ``warmup_iters`` is set.

    The form used before the COCO path was exercised is
    ``BoundaryLoss(crisp_distance='ratio', crisp_wce_reduction='sum',
    crisp_alpha=1e-3)``, with the ``BoundaryBasis`` predictor initialised by
    ``init_cfg=[dict(type='Kaiming', layer='Conv2d')]``.

    Note:
        Deng et al. weight the pixel-summed cross-entropy far below the
        Dice distance; their exact values could not be checked from the
        sources available here. With both parts normalised (the defaults)
        :math:`\alpha = \beta = 1` puts them on the same scale as the BCE
        and Dice terms. Both are configurable.

    Args:
        bce_weight (float): Weight of the BCE term. Defaults to 1.0.
        dice_weight (float): Weight of the Dice term. Defaults to 1.0.
        crisp_weight (float): Weight of the crisp-boundary term.
            Defaults to 1.0.
        crisp_alpha (float): :math:`\alpha`, weight of the class-balanced
            cross-entropy inside the crisp term. Defaults to 1.0.
        crisp_beta (float): :math:`\beta`, weight of the Dice distance
            inside the crisp term. Defaults to 1.0.
        crisp_distance (str): ``'bounded'`` or ``'ratio'``, see above.
        crisp_wce_reduction (str): ``'balanced_mean'`` or ``'sum'``.
        eps (float): Smoothing term of the Dice term and of :math:`D`.
            Defaults to 1.0, as BMask R-CNN's boundary Dice.
        loss_weight (float): Weight of the whole loss. Defaults to 1.0.
        warmup_iters (int): Ramp the whole loss linearly from 0 to its full
            weight over the first ``warmup_iters`` training iterations
            (factor ``min(iter / warmup_iters, 1)``, the iteration read
            from MMEngine's message hub, as mmdet's BoxInst warms up its
            pairwise loss). Outside a training loop (no iteration recorded)
            the factor is 1. Defaults to 0 (no warm-up).
    """

    def __init__(self,
                 bce_weight: float = 1.0,
                 dice_weight: float = 1.0,
                 crisp_weight: float = 1.0,
                 crisp_alpha: float = 1.0,
                 crisp_beta: float = 1.0,
                 crisp_distance: str = 'bounded',
                 crisp_wce_reduction: str = 'balanced_mean',
                 eps: float = 1.0,
                 loss_weight: float = 1.0,
                 warmup_iters: int = 0) -> None:
        super().__init__()
        if warmup_iters < 0:
            raise ConfigError(f'{CFG_KEY}.warmup_iters={warmup_iters}; it '
                              'must be >= 0 (0 turns the warm-up off)')
        if crisp_distance not in CRISP_DISTANCES:
            raise ConfigError(
                f'{CFG_KEY}.crisp_distance={crisp_distance!r} is not one of '
                f'{CRISP_DISTANCES}')
        if crisp_wce_reduction not in WCE_REDUCTIONS:
            raise ConfigError(
                f'{CFG_KEY}.crisp_wce_reduction={crisp_wce_reduction!r} is '
                f'not one of {WCE_REDUCTIONS}')
        self.bce_weight = bce_weight
        self.dice_weight = dice_weight
        self.crisp_weight = crisp_weight
        self.crisp_alpha = crisp_alpha
        self.crisp_beta = crisp_beta
        self.crisp_distance = crisp_distance
        self.crisp_wce_reduction = crisp_wce_reduction
        self.eps = eps
        self.loss_weight = loss_weight
        self.warmup_iters = warmup_iters

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
        loss = (
            self.bce_weight * bce + self.dice_weight * dice +
            self.crisp_weight * crisp)
        if weight is not None:
            weight = weight.reshape(loss.shape).to(loss.dtype)
        loss = weight_reduce_loss(
            loss, weight, reduction='mean', avg_factor=avg_factor)
        return self.loss_weight * self.warmup_factor() * loss

    def warmup_factor(self) -> float:
        """``min(iter / warmup_iters, 1)`` for the current training
        iteration; 1 without warm-up or outside a training loop."""
        if not self.warmup_iters:
            return 1.0
        it = MessageHub.get_current_instance().get_info('iter')
        if it is None:
            return 1.0
        return min(it / self.warmup_iters, 1.0)
