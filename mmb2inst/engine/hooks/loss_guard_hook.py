"""Stop a training run whose losses diverge, before a checkpoint of the
diverged weights is written."""
import math
import os.path as osp
from collections import defaultdict, deque
from statistics import median
from typing import Optional

import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook

from mmb2inst.errors import TrainingDivergedError


@HOOKS.register_module()
class LossGuardHook(Hook):
    """Raise :class:`~mmb2inst.errors.TrainingDivergedError` when a loss is
    not finite, or jumps above ``max_growth`` times its recent median.

    It runs after every training iteration with a higher priority than the
    ``CheckpointHook`` (``VERY_LOW``) and the ``LoggerHook``, so the
    iteration whose loss diverged is never saved: the last checkpoint in the
    work_dir is the last good one, and ``--resume`` continues from it. The
    message names the loss, its value, the iteration and that checkpoint.

    In distributed training every rank checks its own losses and the
    verdict is all-reduced, so that all ranks stop together.

    Args:
        max_growth (float): A finite loss has exploded when it exceeds this
            many times the median of its last ``window`` values, or of
            ``min_value`` if that is larger. Defaults to 100.
        window (int): Iterations in the running median. Defaults to 50.
        min_history (int): Iterations a loss must have been seen before the
            growth test applies. Defaults to 1.
        min_value (float): Floor of the median, so that a loss near 0 may
            grow by any factor without being called exploded. Defaults to
            1.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 max_growth: float = 100.,
                 window: int = 50,
                 min_history: int = 1,
                 min_value: float = 1.) -> None:
        self.max_growth = max_growth
        self.window = window
        self.min_history = min_history
        self.min_value = min_value
        self._history = defaultdict(lambda: deque(maxlen=self.window))

    def _problem(self, name: str, value: float) -> Optional[str]:
        if not math.isfinite(value):
            return f'{name} is {value}'
        history = self._history[name]
        if len(history) >= self.min_history:
            typical = median(history)
            if value > self.max_growth * max(typical, self.min_value):
                return (f'{name} is {value:.4g}, more than '
                        f'{self.max_growth:g} times its median {typical:.4g} '
                        f'over the last {len(history)} iterations')
        return None

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        problems = []
        values = {}
        for name, value in (outputs or {}).items():
            if 'loss' not in name:
                continue
            if isinstance(value, torch.Tensor):
                value = value.detach()
            value = float(value)
            values[name] = value
            problem = self._problem(name, value)
            if problem:
                problems.append(problem)
        failed = torch.tensor(float(bool(problems)))
        if get_world_size() > 1:
            all_reduce(failed)
        if failed.item() == 0:
            for name, value in values.items():
                self._history[name].append(value)
            return
        if not problems:
            problems = ['a loss diverged on another process']
        raise TrainingDivergedError(self._message(runner, problems))

    @staticmethod
    def _message(runner, problems) -> str:
        last = osp.join(runner.work_dir, 'last_checkpoint')
        if osp.isfile(last):
            with open(last) as f:
                ckpt = f.read().strip()
            where = (f'The last checkpoint, {ckpt}, was written before '
                     'the divergence; resume from it with --resume.')
        else:
            where = 'No checkpoint had been written yet.'
        return (
            f'training diverged at iteration {runner.iter + 1} (epoch '
            f'{runner.epoch + 1}): ' + '; '.join(problems) + '. '
            'Training stopped before saving this iteration. ' + where +
            ' Lower the learning rate, lengthen the warm-up or clip '
            'gradients (optim_wrapper.clip_grad=dict(max_norm=35)); '
            'tools/analysis_tools/loss_grad_norms.py shows which loss pulls '
            'hardest. (The check is the LossGuardHook in custom_hooks; '
            'its max_growth sets how large a jump is called '
            'divergence.)')
