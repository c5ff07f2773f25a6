"""LossGuardHook: a non-finite or exploding loss stops training before the
checkpoint of that iteration, naming the loss, the iteration and the last
checkpoint."""
import math
from types import SimpleNamespace

import pytest
import torch
from mmdet.registry import HOOKS

from mmb2inst.errors import TrainingDivergedError


def runner(tmp_path, it=0, epoch=0):
    return SimpleNamespace(work_dir=str(tmp_path), iter=it, epoch=epoch)


def feed(hook, run, values):
    for i, value in enumerate(values):
        run.iter = i
        hook.after_train_iter(
            run,
            i,
            outputs=dict(loss_a=torch.tensor(value), loss_b=1.0, acc=1e9))


def test_healthy_losses_pass(tmp_path):
    hook = HOOKS.build(dict(type='LossGuardHook'))
    # YOLACT-like jumps of up to ~15x, a loss near 0 that grows a lot in
    # relative terms but stays under the floor; non-loss keys are ignored.
    feed(hook, runner(tmp_path), [300., 60., 900., 50., 0.5, 120.])
    feed(
        HOOKS.build(dict(type='LossGuardHook')), runner(tmp_path),
        [1e-4, 0.5, 0.9, 0.2])


@pytest.mark.parametrize('bad', [math.nan, math.inf])
def test_non_finite_loss_stops(tmp_path, bad):
    hook = HOOKS.build(dict(type='LossGuardHook'))
    with pytest.raises(TrainingDivergedError) as info:
        feed(hook, runner(tmp_path), [3., 2., bad])
    text = str(info.value)
    assert f'loss_a is {bad}' in text
    assert 'at iteration 3 (epoch 1)' in text
    assert 'No checkpoint had been written yet' in text


def test_explosion_names_the_last_checkpoint(tmp_path):
    ckpt = tmp_path / 'epoch_2.pth'
    (tmp_path / 'last_checkpoint').write_text(str(ckpt))
    hook = HOOKS.build(dict(type='LossGuardHook'))
    # the median of (2, 4, 3) is 3: 301 > 100 x 3
    with pytest.raises(TrainingDivergedError) as info:
        feed(hook, runner(tmp_path, epoch=2), [2., 4., 3., 301.])
    text = str(info.value)
    assert 'loss_a is 301, more than 100 times its median 3' in text
    assert f'The last checkpoint, {ckpt}, was written before' in text
    assert '--resume' in text
    hook = HOOKS.build(dict(type='LossGuardHook'))
    feed(hook, runner(tmp_path), [2., 4., 3., 299.])  # not above 100 x 3


def test_runs_before_the_checkpoint_hook():
    from mmengine.hooks import CheckpointHook, LoggerHook
    from mmengine.runner.priority import get_priority
    guard = get_priority(HOOKS.get('LossGuardHook').priority)
    assert guard < get_priority(CheckpointHook.priority)
    assert guard < get_priority(LoggerHook.priority)
