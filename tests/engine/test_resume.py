"""Resuming is loss-free: a run interrupted after a checkpoint and resumed
from it ends with exactly the weights and optimizer state of the run that
was never interrupted (:class:`mmb2inst.engine.RNGStateHook`).

First with a tiny model in MMEngine's runner, in this process (epoch and
iteration loops, workers or not, validation between checkpoints; and
without the hook, the failure it fixes), then end to end: a toy model
trained with `mim train`, SIGKILLed in the middle of an epoch and resumed
with `mim train --resume`.
"""
import glob
import os
import os.path as osp
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.model import BaseModel
from toy_runs import (ROOT, env, load_state, make_tiny_toy, run, toy_options,
                      unequal_tensors)

from mmb2inst.engine import B2InstRunner, RNGStateHook


class NoisyDataset(torch.utils.data.Dataset):
    """12 points; each load scales its point by a random factor drawn from
    NumPy's global generator, as mmdet's RandomFlip draws its coin."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        x = torch.linspace(-1, 1, 3) * (i + 1) / 12
        return dict(inputs=x * (1 + float(np.random.rand())))


class SubsetModel(BaseModel):
    """Fits a linear layer on a random subset of each batch, drawn from
    torch's global generator, as YOLACT's protonet keeps a random subset of
    positives."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        x = torch.stack(inputs)
        if mode == 'loss':
            keep = torch.randperm(len(x))[:len(x) // 2 + 1]
            return dict(loss=((self.fc(x[keep]) - 1)**2).mean())
        return [dict(y=y) for y in self.fc(x)]


class CountMetric(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.append(len(data_samples))

    def compute_metrics(self, results):
        return dict(count=sum(results))


def tiny_runner(work_dir,
                by_epoch=True,
                num_workers=1,
                val_interval=1,
                hook=True,
                resume_from=None):
    """3 epochs of 3 iterations (or 9 iterations), checkpoint after each
    epoch (every 3 iterations), validation every ``val_interval`` epochs
    (every ``3 * val_interval`` iterations)."""
    loader = dict(
        dataset=NoisyDataset(),
        sampler=dict(
            type='DefaultSampler' if by_epoch else 'InfiniteSampler',
            shuffle=True),
        batch_size=4,
        num_workers=num_workers,
        persistent_workers=num_workers > 0)
    if by_epoch:
        train_cfg = dict(
            by_epoch=True, max_epochs=3, val_interval=val_interval)
    else:
        train_cfg = dict(
            type='IterBasedTrainLoop',
            max_iters=9,
            val_interval=3 * val_interval)
    torch.manual_seed(0)  # the model's initial weights
    return B2InstRunner(
        model=SubsetModel(),
        work_dir=work_dir,
        experiment_name=f'{osp.basename(work_dir)}_{time.time_ns()}',
        train_dataloader=loader,
        val_dataloader=dict(
            loader, sampler=dict(type='DefaultSampler', shuffle=False)),
        val_cfg=dict(),
        val_evaluator=Evaluator(CountMetric()),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.05)),
        param_scheduler=dict(
            type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
        default_hooks=dict(
            checkpoint=dict(
                type='CheckpointHook',
                interval=1 if by_epoch else 3,
                by_epoch=by_epoch,
                max_keep_ckpts=-1)),
        custom_hooks=[RNGStateHook()] if hook else [],
        randomness=dict(seed=0),
        # (a runner makes its scope the current one: keep the tests' mmdet)
        default_scope='mmdet',
        resume=resume_from is not None,
        load_from=resume_from)


def train_tiny(work_dir, **kwargs):
    runner = tiny_runner(str(work_dir), **kwargs)
    runner.train()
    for loader in (runner.train_dataloader, runner.val_dataloader):
        if getattr(loader, '_iterator', None) is not None:
            loader._iterator._shutdown_workers()  # the persistent workers


def interrupted_and_uninterrupted(tmp_path, **kwargs):
    """The last checkpoints of an uninterrupted run (A) and of a run that
    stopped after its first checkpoint (B: a copy of A's) and resumed."""
    last, first = ('epoch_3.pth', 'epoch_1.pth') if kwargs.get(
        'by_epoch', True) else ('iter_9.pth', 'iter_3.pth')
    train_tiny(tmp_path / 'A', **kwargs)
    os.makedirs(tmp_path / 'B')
    shutil.copy(tmp_path / 'A' / first, tmp_path / 'B' / first)
    train_tiny(
        tmp_path / 'B', resume_from=str(tmp_path / 'B' / first), **kwargs)
    return load_state(str(tmp_path / 'A' /
                          last)), load_state(str(tmp_path / 'B' / last))


@pytest.mark.slow
@pytest.mark.parametrize(
    'kwargs', [
        dict(),
        dict(num_workers=0),
        dict(num_workers=2, val_interval=2),
        dict(by_epoch=False),
    ],
    ids=['workers', 'no_workers', '2workers', 'iter_loop'])
def test_resumed_tiny_run_equals_uninterrupted_run(tmp_path, kwargs):
    a, b = interrupted_and_uninterrupted(tmp_path, **kwargs)
    assert a['meta']['iter'] == b['meta']['iter'] == 9
    for key in ('state_dict', 'optimizer', 'param_schedulers', 'rng_state'):
        assert unequal_tensors(a[key], b[key]) == [], key


def test_without_the_hook_a_resumed_run_differs(tmp_path):
    """What the hook fixes: both sources of randomness alone change the
    weights of a resumed run."""
    for name, kwargs in (('workers', dict(num_workers=1)),
                         ('main', dict(num_workers=0))):
        a, b = interrupted_and_uninterrupted(
            tmp_path / name, hook=False, **kwargs)
        assert unequal_tensors(a['state_dict'], b['state_dict']) != [], name


def test_hook_keeps_uninterrupted_runs_unchanged(tmp_path):
    """Without validation between epochs (the toy schedules validate after
    the last one), a run with the hook is the run without it."""
    for hook in (True, False):
        train_tiny(tmp_path / str(hook), val_interval=3, hook=hook)
    a, b = (
        load_state(str(tmp_path / str(h) / 'epoch_3.pth'))
        for h in (True, False))
    assert unequal_tensors(a['state_dict'], b['state_dict']) == []
    assert unequal_tensors(a['optimizer'], b['optimizer']) == []


# Config -> options that make its training draw from the main process's
# generators at every step (a random subset of positives, of scored
# instances), so that this stream must be restored too, not only the
# data-loader workers' (RandomFlip). One model keeps the test near a minute:
# the hook does not depend on the model. Add configs (with their options)
# here to check them too.
RESUME_CONFIGS = {
    'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py': [
        'model.mask_head.max_masks_to_train=2',
        'model.mask_head.scorer.max_train_instances=2'
    ],
}
EPOCHS, ITERS = 3, 4  # 16 images, batch 4


def mim_train(config, work_dir, opts, *extra):
    return [
        'mim', 'train', 'mmb2inst', config, '--work-dir', work_dir, *extra,
        '--cfg-options', *opts
    ]


def process_tree():
    """``{pid: [child pids]}`` of all processes."""
    children = {}
    for stat in glob.glob('/proc/[0-9]*/stat'):
        try:
            with open(stat) as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.split('/')[2]))
    return children


def descendants(pid, tree):
    out, todo = [], [pid]
    while todo:
        below = tree.get(todo.pop(), [])
        out += below
        todo += below
    return out


def is_train_script(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return any(a.endswith(b'train.py') for a in f.read().split(b'\0'))
    except OSError:
        return False


def kill_in_epoch_2(args, out_file, timeout=300):
    """Run ``args`` (a `mim train`) and SIGKILL its training process once
    epoch 1's checkpoint is written and epoch 2 has started."""
    with open(out_file, 'w') as out:
        mim = subprocess.Popen(
            args, cwd=ROOT, env=env(), stdout=out, stderr=subprocess.STDOUT)
    started, below = time.time(), []
    try:
        while f'Epoch(train) [2][1/{ITERS}]' not in open(out_file).read():
            assert mim.poll() is None, open(out_file).read()[-3000:]
            assert time.time() - started < timeout, 'epoch 2 did not start'
            time.sleep(0.05)
        # mim runs `python .../train.py CONFIG ...` as its child; the
        # data-loader workers are that process's children (forks: same
        # command line).
        tree = process_tree()
        train = [p for p in tree.get(mim.pid, []) if is_train_script(p)]
        assert len(train) == 1, train
        below = descendants(train[0], tree)
        os.kill(train[0], signal.SIGKILL)
        assert mim.wait(timeout=60) != 0
    finally:
        if mim.poll() is None:  # failed before the kill: stop everything
            below += descendants(mim.pid, process_tree())
            mim.kill()
            mim.wait()
        # Orphaned workers notice their parent's death and exit; make sure.
        for pid in below:
            for _ in range(100):
                if not osp.exists(f'/proc/{pid}'):
                    break
                time.sleep(0.1)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.mark.slow
@pytest.mark.parametrize('config', list(RESUME_CONFIGS), ids=osp.basename)
def test_killed_and_resumed_run_equals_uninterrupted_run(config, tmp_path):
    assert osp.isfile(osp.join(ROOT, config)), config
    data_root = str(tmp_path / 'toy')
    gen = make_tiny_toy(data_root, num_train=16, num_val=4)
    # persistent data-loader workers (1, as the toy configs have); no
    # validation (the in-process tests above cover it)
    opts = toy_options(data_root, gen, batch_size=4, max_epochs=EPOCHS)
    opts += RESUME_CONFIGS[config] + ['default_hooks.logger.interval=1']
    work_a, work_b = str(tmp_path / 'A'), str(tmp_path / 'B')

    out = run(mim_train(config, work_a, opts))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

    kill_in_epoch_2(mim_train(config, work_b, opts), str(tmp_path / 'B.out'))
    assert not osp.exists(osp.join(work_b, 'epoch_2.pth'))
    b1 = load_state(osp.join(work_b, 'epoch_1.pth'))

    out = run(mim_train(config, work_b, opts, '--resume'))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert (f'mmb2inst: resuming from {work_b}/epoch_1.pth, epoch 1 '
            f'(iteration {ITERS}); training continues with epoch 2 of '
            f'{EPOCHS}.') in log
    assert f'random state of iteration {ITERS} restored' in log

    a = load_state(osp.join(work_a, f'epoch_{EPOCHS}.pth'))
    b = load_state(osp.join(work_b, f'epoch_{EPOCHS}.pth'))
    assert a['meta']['iter'] == b['meta']['iter'] == EPOCHS * ITERS
    assert len(a['state_dict']) > 100
    assert unequal_tensors(a['state_dict'], b['state_dict']) == []
    assert len(a['optimizer']['state']) > 100  # AdamW moments per weight
    assert unequal_tensors(a['optimizer'], b['optimizer']) == []
    assert unequal_tensors(a['param_schedulers'], b['param_schedulers']) == []
    # the random states stored at the end (main process, and the worker's
    # after its last batch) agree as well
    assert unequal_tensors(a['rng_state'], b['rng_state']) == []
    # ...and training did move the weights after the resume
    assert unequal_tensors(b1['state_dict'], b['state_dict']) != []
