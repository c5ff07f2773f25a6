"""tools/analysis_tools/loss_grad_norms.py: per-loss gradient norms, checked
against direct autograd and the boundary loss's own composition."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from toy_runs import ROOT, build_model, load_tool, toy_batch

import mmb2inst  # noqa: F401

BLENDMASK_E = ('configs/b2inst_blendmask/'
               'b2inst-blendmask_hbb_r18_1xb8-12e_toy.py')


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools/loss_grad_norms')


def fresh(config, **boundary):
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.model.mask_head.boundary.update(boundary)
    model = build_model(cfg.model, seed=0)
    return model, toy_batch(model, seed=1)


def test_grad_norm_by_hand(tool):
    a = torch.nn.Parameter(torch.tensor([1., 2.]))
    b = torch.nn.Parameter(torch.tensor([3.]))
    unused = torch.nn.Parameter(torch.tensor([5.]))
    loss = (a**2).sum() + 2 * b.sum()  # grads (2, 4) and (2)
    assert tool.grad_norm(loss, [a, b, unused
                                 ]) == pytest.approx(math.sqrt(4 + 16 + 4))


def test_norms_and_boundary_terms_on_blendmask(tool):
    model, data = fresh(BLENDMASK_E)
    norms = tool.loss_grad_norms(model, data)
    assert {
        'loss_cls', 'loss_mask', 'loss_boundary', 'boundary/bce',
        'boundary/dice', 'boundary/crisp'
    } <= set(norms)
    # The split is the loss itself: loss = weight * (bce + dice + crisp),
    # the terms unweighted (the toy B2Inst-BlendMask weighs it 0.25).
    weight = model.mask_head.boundary.loss_boundary.loss_weight
    assert weight == 0.25
    total = sum(norms[f'boundary/{t}'][0] for t in ('bce', 'dice', 'crisp'))
    assert weight * total == pytest.approx(norms['loss_boundary'][0], rel=1e-5)
    # Norms are of the gradient over all trainable parameters (a norm of a
    # sum is at most the sum of the norms).
    assert norms['loss_boundary'][1] <= weight * sum(
        norms[f'boundary/{t}'][1]
        for t in ('bce', 'dice', 'crisp')) * (1 + 1e-6)
    assert all(v[1] > 0 for v in norms.values())
    # The forward hook is gone afterwards.
    assert not model.mask_head.boundary._forward_hooks


@pytest.mark.slow
def test_local_supervision_has_no_term_split(tool):
    model, data = fresh(
        'configs/b2inst_yolact/b2inst-yolact_hbb_r18_1xb8-12e_toy.py',
        supervision='local')
    norms = tool.loss_grad_norms(model, data)
    assert 'loss_boundary' in norms
    assert not any(k.startswith('boundary/') for k in norms)


@pytest.mark.parametrize('config', [
    'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_hbb_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_design-a_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_design-b_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_design-c_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_design-d_r18_1xb8-12e_toy.py',
])
@pytest.mark.slow
@pytest.mark.parametrize('seed', [0, 1])
def test_boundary_loss_pulls_within_the_host_range_at_init(tool, config, seed):
    """Issue 13, item 4, at initialisation: the boundary loss's gradient on
    the FPN features is inside the range of the host's own losses, for
    every design. (With B2Inst-YOLACT's predictor at Xavier gain 1 it
    started at 0.67x the weakest host loss on the toy set; with the earlier
    weight 1 and std-0.01 predictor ~60x below; docs/results.md.)"""
    boundary, host = boundary_and_host_norms(
        tool,
        Config.fromfile(osp.join(ROOT, config)).model, seed)
    assert min(host) <= boundary <= max(host), (boundary, min(host), max(host))


@pytest.mark.slow
@pytest.mark.parametrize('seed', [0, 1])
def test_blendmask_toy_weight_scales_a_loss_inside_the_range(tool, seed):
    """On the toy B2Inst-BlendMask the unweighted boundary loss starts
    inside the host's range (issue 13, item 4); the shipped weight, 0.25 as
    on COCO, chosen on toy accuracy (issue 15: +1.7 [+0.4, +2.9] mask AP
    over weight 1, 5 seeds), scales its pull linearly and so starts it
    below the weakest host loss (about 0.3-0.4x; inside the range after
    training, docs/design.md)."""
    config = 'configs/b2inst_blendmask/b2inst-blendmask_r18_1xb8-12e_toy.py'
    cfg = Config.fromfile(osp.join(ROOT, config))
    shipped, host = boundary_and_host_norms(tool, cfg.model, seed)
    cfg.model.mask_head.boundary.loss_boundary = dict(loss_weight=1.)
    unweighted, same_host = boundary_and_host_norms(tool, cfg.model, seed)
    assert same_host == pytest.approx(host, rel=1e-6)
    assert min(host) <= unweighted <= max(host), (unweighted, host)
    assert shipped == pytest.approx(0.25 * unweighted, rel=1e-5)
    assert shipped < min(host)


def test_yolact_predictor_at_std_001_starts_below_the_range(tool):
    """The control of the test above, so that it can fail: the same
    B2Inst-YOLACT with the predictor at std 0.01 (mmdet's prediction-layer
    init, the first fix of issue 13) starts far below the host's weakest
    loss. (At Xavier gain 1, the configs before gain 4, it started at
    0.62-1.36x the weakest over seeds 0-4 with the per-component seeds:
    too close to the edge to be a control; docs/design.md.)"""
    config = 'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py'
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.model.mask_head.boundary.init_cfg[1] = dict(
        type='Normal', std=0.01, bias=0., override=dict(name='boundary_pred'))
    boundary, host = boundary_and_host_norms(tool, cfg.model, 0)
    assert boundary < 0.2 * min(host)


def boundary_and_host_norms(tool, model_cfg, seed):
    """The boundary loss's gradient norm on the FPN features at
    initialisation, and the host losses' norms, on a toy batch."""
    model = build_model(model_cfg, seed)
    model.train()
    norms = tool.loss_grad_norms(model, toy_batch(model, size=128, seed=seed))
    host = [
        norm for name, (_, norm) in norms.items()
        if name.startswith(tool.HOST_LOSS_PREFIXES)
    ]
    return norms['loss_boundary'][1], host
