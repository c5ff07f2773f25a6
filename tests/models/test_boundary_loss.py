# Copyright (c) mmb2inst contributors. All rights reserved.
import math

import pytest
import torch

from mmb2inst.models.losses.boundary_loss import BoundaryLoss

LN2, LN3, LN4 = math.log(2), math.log(3), math.log(4)


def _examples():
    """Two 2x2 images with the same target: one positive pixel."""
    target = torch.tensor([[[1., 0.], [0., 0.]]])
    # Image A: all logits 0, so p = 0.5 everywhere.
    uniform = torch.zeros(1, 2, 2)
    # Image B: p = sigmoid(logit) = [[0.75, 0.25], [0.75, 0.5]].
    skewed = torch.tensor([[[LN3, -LN3], [LN3, 0.]]])
    return uniform, skewed, target


# Deng et al.'s form as written: the distance as the unbounded ratio, the
# class-balanced cross-entropy summed over pixels.
LEGACY = dict(crisp_distance='ratio', crisp_wce_reduction='sum')


def test_components_on_uniform_prediction():
    uniform, _, target = _examples()
    terms = BoundaryLoss(
        crisp_alpha=0.1, crisp_beta=2.).components(uniform, target)
    # BCE: every pixel costs -log 0.5 = ln 2.
    assert terms['bce'].item() == pytest.approx(LN2, rel=1e-6)
    # Dice: sum pg = 0.5, sum p = 2, sum g = 1:
    # 1 - (2 * 0.5 + 1) / (2 + 1 + 1) = 0.5.
    assert terms['dice'].item() == pytest.approx(0.5, rel=1e-6)
    # Crisp: 3 of 4 pixels are negative, gamma = 3/4. Weights: 3/4 on the
    # positive, 1/4 on each negative, summing to 1.5; the weighted sum of
    # the cross-entropies is 1.5 ln 2, so the balanced mean is ln 2.
    # Bounded distance: 1 - (2 sum pg + 1) / (sum p^2 + sum g^2 + 1)
    #     = 1 - 2 / 3 = 1 / 3.
    assert terms['crisp'].item() == pytest.approx(0.1 * LN2 + 2 / 3, rel=1e-6)
    # Legacy: L_wce = 1.5 ln 2 (summed); L_d - 1 = (1 + 1 + 1) / 2 - 1.
    legacy = BoundaryLoss(
        crisp_alpha=0.1, crisp_beta=2., **LEGACY).components(uniform, target)
    assert legacy['crisp'].item() == pytest.approx(
        0.1 * 1.5 * LN2 + 2 * 0.5, rel=1e-6)


def test_components_on_skewed_prediction():
    _, skewed, target = _examples()
    terms = BoundaryLoss(
        crisp_alpha=1., crisp_beta=1.).components(skewed, target)
    # p = [0.75, 0.25, 0.75, 0.5], g = [1, 0, 0, 0].
    # BCE per pixel: -ln 0.75, -ln 0.75, -ln 0.25, -ln 0.5.
    bce = (2 * math.log(4 / 3) + LN4 + LN2) / 4
    assert terms['bce'].item() == pytest.approx(bce, rel=1e-6)
    # Dice: sum pg = 0.75, sum p = 2.25, sum g = 1:
    # 1 - (1.5 + 1) / (2.25 + 1 + 1) = 1 - 2.5 / 4.25.
    assert terms['dice'].item() == pytest.approx(1 - 2.5 / 4.25, rel=1e-6)
    # Weighted sum of the cross-entropies (weights 3/4 and 1/4, summing to
    # 1.5): 3/4 * ln(4/3) + 1/4 * (ln(4/3) + ln 4 + ln 2).
    wce = 0.75 * math.log(4 / 3) + 0.25 * (math.log(4 / 3) + LN4 + LN2)
    # sum p^2 = 0.5625 + 0.0625 + 0.5625 + 0.25 = 1.4375, so Deng's
    # D = (1.4375 + 1 + 1) / (2 * 0.75 + 1) = 1.375.
    bounded = 1 - 1 / 1.375
    assert terms['crisp'].item() == pytest.approx(
        wce / 1.5 + bounded, rel=1e-6)
    # Legacy: D - 1 = sum (p - g)^2 / (2 sum pg + 1)
    #         = (0.0625 + 0.0625 + 0.5625 + 0.25) / 2.5 = 0.375.
    legacy = BoundaryLoss(
        crisp_alpha=1., crisp_beta=1., **LEGACY).components(skewed, target)
    assert legacy['crisp'].item() == pytest.approx(wce + 0.375, rel=1e-6)


def test_crisp_term_is_bounded_and_independent_of_the_map_size():
    # The same image content (2% boundary pixels, p = 0.5 everywhere) on a
    # toy-sized and a COCO-sized map: the legacy term grows with the area,
    # the default one does not.
    def case(side):
        target = torch.zeros(1, side, side)
        target[0, :, :max(1, side // 50)] = 1
        return torch.zeros(1, side, side), target

    small, large = case(50), case(250)
    # The class-balanced cross-entropy alone (beta = 0): summed, it grows
    # with the area (x25 here); its balanced mean does not.
    default = BoundaryLoss(crisp_beta=0.)
    legacy = BoundaryLoss(crisp_beta=0., **LEGACY)
    d_small = default.components(*small)['crisp'].item()
    d_large = default.components(*large)['crisp'].item()
    assert d_small == pytest.approx(LN2, rel=1e-5)
    assert d_large == pytest.approx(LN2, rel=1e-5)
    l_small = legacy.components(*small)['crisp'].item()
    l_large = legacy.components(*large)['crisp'].item()
    assert l_large == pytest.approx(25 * l_small, rel=1e-5)
    # The bounded distance stays below 1 even when the prediction misses
    # the boundary entirely; Deng's ratio does not.
    target = large[1]
    miss = torch.where(target > 0, -20., 20.)
    bounded = BoundaryLoss(crisp_alpha=0.).components(miss, target)
    ratio = BoundaryLoss(crisp_alpha=0., **LEGACY).components(miss, target)
    assert bounded['crisp'].item() < 1
    assert ratio['crisp'].item() > 1000


def test_gradient_on_a_missed_boundary_is_bounded():
    # A prediction that misses the boundary: Deng's ratio has its largest
    # gradient there (sum pg -> 0); the bounded form's stays small.
    target = torch.zeros(1, 200, 272)
    target[0, 50:150, 100] = 1  # 100 boundary pixels, 0.2% of the map
    grads = {}
    for name, opts in (('bounded', {}), ('ratio', LEGACY)):
        logits = torch.full((1, 200, 272), -4.6, requires_grad=True)
        BoundaryLoss(
            crisp_alpha=0., **opts).components(logits,
                                               target)['crisp'].backward()
        grads[name] = logits.grad.abs().max().item()
    assert grads['bounded'] < 0.05
    assert grads['ratio'] > 100 * grads['bounded']


def test_terms_are_averaged_over_images():
    uniform, skewed, target = _examples()
    loss = BoundaryLoss(crisp_alpha=0.5)
    both = loss.components(
        torch.cat([uniform, skewed]), torch.cat([target, target]))
    first = loss.components(uniform, target)
    second = loss.components(skewed, target)
    for name in ('bce', 'dice', 'crisp'):
        assert both[name].item() == pytest.approx(
            (first[name].item() + second[name].item()) / 2, rel=1e-6)
    # (N, 1, H, W) is the same as (N, H, W).
    assert loss(uniform[:, None], target[:, None]).item() == pytest.approx(
        loss(uniform, target).item(), rel=1e-7)


def test_perfect_prediction_reaches_the_minimum():
    target = torch.zeros(2, 6, 6)
    target[0, 1:5, 1] = 1
    target[0, 1, 1:5] = 1
    # Image 1 has no boundary at all.
    logits = 30 * (2 * target - 1)
    terms = BoundaryLoss().components(logits, target)
    assert terms['bce'].item() < 1e-6
    assert terms['dice'].item() < 1e-6
    assert terms['crisp'].item() < 1e-6
    # The crisp term never goes below its minimum 0 (L_d >= 1).
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        noisy = torch.randn(2, 6, 6, generator=generator) * 3
        crisp = BoundaryLoss(crisp_alpha=0.).components(noisy, target)
        assert crisp['crisp'].item() > 0


def test_loss_decreases_toward_the_target():
    generator = torch.Generator().manual_seed(1)
    target = (torch.rand(3, 8, 8, generator=generator) < 0.2).float()
    loss = BoundaryLoss()
    previous = None
    for scale in (0., 0.5, 1., 2., 4.):
        logits = scale * (2 * target - 1)
        terms = loss.components(logits, target)
        current = [loss(logits, target).item()]
        current += [terms[k].item() for k in ('bce', 'dice', 'crisp')]
        if previous is not None:
            assert all(c < p for c, p in zip(current, previous))
        previous = current


@pytest.mark.parametrize('fill', [0., 1.])
def test_finite_on_constant_targets(fill):
    generator = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 1, 5, 7, generator=generator)
    logits.requires_grad_()
    target = torch.full((2, 1, 5, 7), fill)
    value = BoundaryLoss()(logits, target)
    assert torch.isfinite(value)
    value.backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad.abs().sum() > 0
    for term in BoundaryLoss().components(logits, target).values():
        assert torch.isfinite(term)


def test_empty_batch_keeps_the_graph():
    logits = torch.zeros(0, 1, 4, 4, requires_grad=True)
    target = torch.zeros(0, 1, 4, 4)
    value = BoundaryLoss()(logits, target)
    assert value.item() == 0 and value.requires_grad
    value.backward()
    assert logits.grad.shape == (0, 1, 4, 4)
    terms = BoundaryLoss().components(logits, target)
    assert all(term.item() == 0 for term in terms.values())


def test_build_from_registry_and_weights():
    from mmdet.registry import MODELS

    uniform, skewed, target = _examples()
    logits = torch.cat([uniform, skewed])
    targets = torch.cat([target, target])
    cfg = dict(type='BoundaryLoss', crisp_alpha=0.01, loss_weight=1.5)
    loss = MODELS.build(cfg)
    assert isinstance(loss, BoundaryLoss)
    terms = loss.components(logits, targets)
    expected = 1.5 * (terms['bce'] + terms['dice'] + terms['crisp'])
    assert loss(logits, targets).item() == pytest.approx(
        expected.item(), rel=1e-6)
    doubled = MODELS.build(dict(cfg, loss_weight=3.))
    assert doubled(logits, targets).item() == pytest.approx(
        2 * loss(logits, targets).item(), rel=1e-6)

    # Per-image weights and avg_factor follow mmdet's weight_reduce_loss.
    first = loss(uniform, target)
    weighted = loss(
        logits, targets, weight=torch.tensor([1., 0.]), avg_factor=1.)
    assert weighted.item() == pytest.approx(first.item(), rel=1e-6)
