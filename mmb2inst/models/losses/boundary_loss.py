# Copyright (c) mmb2inst contributors. All rights reserved.
"""The holistic boundary loss of B2Inst (§4.1, "Objective function")."""
from typing import Dict, Optional, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses.dice_loss import dice_loss
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from mmengine.logging import MessageHub
from torch import Tensor


@MODELS.register_module()
class BoundaryLoss(nn.Module):
    r"""BCE + Dice + crisp-boundary loss on predicted boundary maps.

    B2Inst supervises its boundary basis with "three different loss
    functions in total: 1) binary cross-entropy loss, 2) dice loss, and
    3) boundary loss [13]", [13] being Deng et al., "Learning to predict
    crisp boundaries", ECCV 2018. Per image, with :math:`p = \sigma(x)` the
    predicted boundary probabilities and :math:`g` the binary target:

    - ``bce``: binary cross-entropy with logits, averaged over pixels.
    - ``dice``: :math:`1 - \frac{2 \sum pg + \epsilon}
      {\sum p + \sum g + \epsilon}` (mmdet's ``dice_loss`` with
      ``naive_dice=True``).
    - ``crisp``: Deng et al.'s loss
      :math:`\alpha L_{wce} + \beta (L_d - 1)`, with

      - :math:`L_{wce} = -\gamma \sum_{g=1} \log p
        - (1 - \gamma) \sum_{g=0} \log (1 - p)`, the class-balanced
        cross-entropy of HED that Deng et al. use, :math:`\gamma` being the
        fraction of negative pixels of the image. It is a *sum* over the
        image's pixels, as in HED and Deng et al., so its scale grows with
        the map size and :math:`\alpha` is small.
      - :math:`L_d = \frac{\sum p^2 + \sum g^2 + \epsilon}
        {2 \sum pg + \epsilon}`, Deng et al.'s Dice distance with
        :math:`\epsilon` added so that an empty target (no boundary) stays
        finite. :math:`L_d \geq 1` with equality iff :math:`p = g`
        (:math:`\sum p^2 + \sum g^2 \geq 2 \sum pg`), so the constant 1 is
        subtracted: a perfect prediction gives ``crisp`` = 0. The gradient
        is unchanged; it is computed as the equal
        :math:`\frac{\sum (p - g)^2}{2 \sum pg + \epsilon}`, which does not
        cancel.

    The three terms are averaged over the images of the batch and summed:
    ``loss_weight * (bce_weight * bce + dice_weight * dice +
    crisp_weight * crisp)``, times a warm-up factor when ``warmup_iters``
    is set.

    Note:
        Deng et al. write the combined loss as :math:`\alpha L_c + \beta
        L_d` and weight the pixel-summed cross-entropy far below the Dice
        distance. The defaults ``crisp_alpha=1e-3, crisp_beta=1.0`` follow
        that scale, but the exact values could not be checked against the
        paper's text from the sources available (only its abstract was);
        verify them before relying on them. Both are configurable.

    Args:
        bce_weight (float): Weight of the BCE term. Defaults to 1.0.
        dice_weight (float): Weight of the Dice term. Defaults to 1.0.
        crisp_weight (float): Weight of the crisp-boundary term.
            Defaults to 1.0.
        crisp_alpha (float): :math:`\alpha`, weight of :math:`L_{wce}`
            inside the crisp term. Defaults to 1e-3.
        crisp_beta (float): :math:`\beta`, weight of :math:`L_d - 1` inside
            the crisp term. Defaults to 1.0.
        eps (float): Smoothing term of the Dice term and of :math:`L_d`.
            Defaults to 1.0, as BMask R-CNN's boundary Dice.
        loss_weight (float): Weight of the whole loss. Defaults to 1.0.
        warmup_iters (int): Ramp the whole loss linearly from 0 to its full
            weight over the first ``warmup_iters`` training iterations
            (factor ``min(iter / warmup_iters, 1)``, the iteration read
            from MMEngine's message hub, as mmdet's BoxInst warms up its
            pairwise loss). A freshly initialised boundary map makes the
            crisp term's gradient hundreds of times larger than the
            detector's (``tools/loss_grad_norms.py``); the ramp keeps that
            out of the shared features while the boundary predictor, whose
            AdamW steps do not depend on the loss scale, learns. (On the
            toy B2Inst-BlendMask, 500 iterations helped one seed and hurt
            the other; ``crisp_weight=0`` helped both: README, "Toy
            results".) Outside a training loop (no iteration recorded) the
            factor is 1. Defaults to 0 (no warm-up).
    """

    def __init__(self,
                 bce_weight: float = 1.0,
                 dice_weight: float = 1.0,
                 crisp_weight: float = 1.0,
                 crisp_alpha: float = 1e-3,
                 crisp_beta: float = 1.0,
                 eps: float = 1.0,
                 loss_weight: float = 1.0,
                 warmup_iters: int = 0) -> None:
        super().__init__()
        if warmup_iters < 0:
            raise ValueError(f'warmup_iters={warmup_iters}; it must be >= 0 '
                             '(0 turns the warm-up off)')
        self.bce_weight = bce_weight
        self.dice_weight = dice_weight
        self.crisp_weight = crisp_weight
        self.crisp_alpha = crisp_alpha
        self.crisp_beta = crisp_beta
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
            (N,).
        """
        if pred.numel() != target.numel():
            raise ValueError(f'pred {tuple(pred.shape)} and target '
                             f'{tuple(target.shape)} differ in size')
        logits = pred.flatten(1)
        target = target.reshape(logits.shape).to(logits.dtype)
        prob = logits.sigmoid()

        bce = F.binary_cross_entropy_with_logits(
            logits, target, reduction='none').mean(1)
        dice = dice_loss(
            prob, target, eps=self.eps, reduction='none', naive_dice=True)

        # HED's class balance: positives weighted by the fraction of
        # negatives and vice versa. An all-negative or all-positive map
        # gets weight 0 on its only class, so L_wce is 0, not NaN.
        neg_frac = 1 - target.mean(1, keepdim=True)
        balance = target * neg_frac + (1 - target) * (1 - neg_frac)
        wce = F.binary_cross_entropy_with_logits(
            logits, target, weight=balance, reduction='none').sum(1)
        sq_err = ((prob - target)**2).sum(1)
        dist = sq_err / (2 * (prob * target).sum(1) + self.eps)
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
