"""FreezeModulesHook: only the named modules train; everything else keeps
its weights and its normalisation statistics."""
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import HOOKS, MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from toy_runs import ROOT

SCORED = osp.join(ROOT, 'configs', 'b2inst_blendmask',
                  'b2inst-blendmask_r18_1xb8-12e_toy.py')


def test_only_the_scorer_trains():
    cfg = Config.fromfile(SCORED)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    # A scorer trained on top of a trained B2Inst model: custom_hooks =
    # [dict(type='FreezeModulesHook', trainable=['mask_head.scorer'])].
    hook = HOOKS.build(
        dict(type='FreezeModulesHook', trainable=['mask_head.scorer']))
    runner = SimpleNamespace(model=model)
    model.train()
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optim = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    packed = demo_mm_inputs(
        2, [[3, 128, 128]] * 2,
        num_items=[3, 2],
        with_mask=True,
        num_classes=5)
    data = model.data_preprocessor(packed, True)
    for _ in range(2):
        hook.before_train_iter(runner, 0)
        loss, _ = model.parse_losses(
            model.loss(data['inputs'], data['data_samples']))
        optim.zero_grad()
        loss.backward()
        optim.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed, 'the scorer did not train'
    assert all(k.startswith('mask_head.scorer.') for k in changed), sorted(
        k for k in changed if not k.startswith('mask_head.scorer.'))[:5]
    # BN running statistics count as frozen too (eval mode).
    assert any('running_mean' in k for k in before)
    assert model.mask_head.scorer.training
    # Norm layers outside the scorer are in eval mode, the modules holding
    # them are not (FCOS reads self.training to scale its boxes).
    assert not model.backbone.bn1.training
    assert model.backbone.training and model.bbox_head.training


def test_unknown_trainable_module_is_named():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    hook = HOOKS.build(
        dict(type='FreezeModulesHook', trainable=['mask_head.scorer']))
    with pytest.raises(ValueError, match=r"\['mask_head.scorer'\]"):
        hook.before_train(SimpleNamespace(model=model))
