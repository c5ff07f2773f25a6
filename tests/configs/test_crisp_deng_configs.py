"""The ``crisp-deng`` rows: the shipped B2Inst configs with the crisp-boundary
term as Deng et al. define it (the unbounded Dice ratio D - 1 and the
class-balanced cross-entropy summed over pixels, alpha = 1e-3, beta = 1),
and on COCO the gradient clipping that keeps them from diverging under the
hosts' SGD recipes (docs/design.md)."""
import math
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from toy_runs import ROOT

from mmb2inst.models.basis_heads.boundary_basis import DEFAULT_LOSS
from mmb2inst.models.utils import with_defaults

# Deng row -> (shipped row, its COCO clip max_norm or None on the toy).
ROWS = {
    'configs/b2inst_yolact/b2inst-yolact_crisp-deng_r50_1xb8-55e_coco.py':
    ('configs/b2inst_yolact/b2inst-yolact_r50_1xb8-55e_coco.py', 1000.),
    'configs/b2inst_blendmask/b2inst-blendmask_crisp-deng_r50_1x_coco.py':
    ('configs/b2inst_blendmask/b2inst-blendmask_r50_1x_coco.py', 35.),
    'configs/b2inst_yolact/b2inst-yolact_crisp-deng_r18_1xb8-12e_toy.py':
    ('configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py', None),
    'configs/b2inst_blendmask/b2inst-blendmask_crisp-deng_r18_1xb8-12e_toy.py':
    ('configs/b2inst_blendmask/b2inst-blendmask_r18_1xb8-12e_toy.py', None),
}
LOSS_KEY = 'model.mask_head.boundary.loss_boundary'
DENG = dict(
    crisp_distance='ratio', crisp_wce_reduction='sum', crisp_alpha=1e-3)


def _load(path: str) -> Config:
    return Config.fromfile(osp.join(ROOT, path))


def _flat(tree, prefix=''):
    """``{dotted key: leaf}`` of nested dicts (lists are leaves)."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out = {}
    for key, value in tree.items():
        out.update(_flat(value, f'{prefix}.{key}' if prefix else key))
    return out


@pytest.mark.parametrize('row', sorted(ROWS), ids=osp.basename)
def test_row_changes_the_crisp_form_and_on_coco_the_clip_only(row):
    base, max_norm = ROWS[row]
    deng, shipped = _flat(_load(row).to_dict()), _flat(_load(base).to_dict())
    differ = {
        k
        for k in set(deng) | set(shipped) if deng.get(k) != shipped.get(k)
    }
    expected = {f'{LOSS_KEY}.{k}' for k in DENG}
    if max_norm is not None:
        # The shipped COCO recipes do not clip; their Deng rows do.
        assert 'optim_wrapper.clip_grad' not in shipped
        expected |= {
            'optim_wrapper.clip_grad.max_norm',
            'optim_wrapper.clip_grad.norm_type'
        }
        assert deng['optim_wrapper.clip_grad.max_norm'] == max_norm
    else:
        # The toy recipe clips already, both rows alike.
        assert deng['optim_wrapper.clip_grad.max_norm'] == 35
    assert differ == expected
    # Everything else of the loss (its weight per host) is the shipped row's.
    weight = 4. if 'yolact' in row else 0.25
    assert deng[f'{LOSS_KEY}.loss_weight'] == weight


@pytest.mark.parametrize('row', sorted(ROWS), ids=osp.basename)
def test_row_builds_dengs_loss(row):
    cfg = _load(row).model.mask_head.boundary.loss_boundary
    loss = MODELS.build(with_defaults(cfg, DEFAULT_LOSS))
    assert (loss.crisp_distance, loss.crisp_wce_reduction) == ('ratio', 'sum')
    assert (loss.crisp_alpha, loss.crisp_beta) == (1e-3, 1.)
    # One 2x2 map, one boundary pixel, p = 0.5 everywhere. HED's weights:
    # 3/4 on the positive, 1/4 on each of the three negatives; each pixel
    # costs ln 2, so the summed L_wce = 1.5 ln 2. Deng's D = (sum p^2 +
    # sum g^2 + 1) / (2 sum pg + 1) = (1 + 1 + 1) / 2, so D - 1 = 0.5.
    target = torch.tensor([[[1., 0.], [0., 0.]]])
    crisp = loss.components(torch.zeros(1, 2, 2), target)['crisp']
    assert crisp.item() == pytest.approx(
        1e-3 * 1.5 * math.log(2) + 0.5, rel=1e-6)


@pytest.mark.parametrize(
    'row', [r for r in sorted(ROWS) if ROWS[r][1] is not None],
    ids=osp.basename)
def test_coco_row_clips_the_step(row):
    # One SGD step from w = 0 with a gradient of twice the clip norm: the
    # gradient is scaled to the clip norm, so the step is
    # -lr * g * max_norm / |g| (momentum and weight decay act on w = 0 and
    # an empty history: nothing).
    from mmengine.optim import build_optim_wrapper
    cfg = _load(row)
    max_norm = ROWS[row][1]
    lr = cfg.optim_wrapper.optimizer.lr
    module = torch.nn.Linear(2, 1, bias=False)
    torch.nn.init.zeros_(module.weight)
    wrapper = build_optim_wrapper(module, cfg.optim_wrapper)
    # (3, 4) * 0.4 max_norm has norm 2 max_norm.
    grad = torch.tensor([[3., 4.]]) * 0.4 * max_norm
    wrapper.update_params((module.weight * grad).sum())
    step = -lr * grad / 2
    torch.testing.assert_close(
        module.weight.detach(), step, rtol=1e-5, atol=0.)
    # Without the clip (the shipped row) the same step is twice as long.
    base = _load(ROWS[row][0])
    torch.nn.init.zeros_(module.weight)
    wrapper = build_optim_wrapper(module, base.optim_wrapper)
    wrapper.update_params((module.weight * grad).sum())
    torch.testing.assert_close(
        module.weight.detach(), 2 * step, rtol=1e-5, atol=0.)
