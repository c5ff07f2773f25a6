"""Train only some modules of a model, the rest frozen (weights and
normalisation statistics)."""
from typing import Optional, Sequence

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

_STATEFUL = (_BatchNorm, nn.Dropout, nn.Dropout2d)


@HOOKS.register_module()
class FreezeModulesHook(Hook):
    """Freeze every parameter and every normalisation layer outside the
    ``trainable`` modules.

    Used to train a head on top of a trained model, e.g. the boundary-aware
    scorer on a trained B2Inst model (``load_from`` its checkpoint): the
    detector's weights, batch-norm statistics and hence its masks stay
    exactly those of the checkpoint.

    Args:
        trainable (Sequence[str]): Module names (as in ``named_modules``,
            e.g. ``'mask_head.scorer'``) that keep training.
    """

    priority = 'VERY_HIGH'

    def __init__(self, trainable: Sequence[str]) -> None:
        if isinstance(trainable, str):
            trainable = [trainable]
        self.trainable = tuple(trainable)

    def _is_trainable(self, name: str) -> bool:
        return any(name == t or name.startswith(t + '.')
                   for t in self.trainable)

    def _model(self, runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_train(self, runner) -> None:
        model = self._model(runner)
        names = dict(model.named_modules())
        missing = [t for t in self.trainable if t not in names]
        if missing:
            raise ValueError(
                f'FreezeModulesHook: trainable={missing} are not modules of '
                f'{type(model).__name__}; e.g. {sorted(names)[1:6]}.')
        for name, param in model.named_parameters():
            param.requires_grad_(self._is_trainable(name))

    def before_train_epoch(self, runner) -> None:
        # The train loop calls model.train() at every epoch.
        self._set_modes(runner)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        self._set_modes(runner)

    def _set_modes(self, runner) -> None:
        # Only layers whose state or output depends on the mode are set to
        # eval: heads read ``self.training`` for other things too (FCOS
        # scales its box predictions by the stride in eval mode).
        for name, module in self._model(runner).named_modules():
            if isinstance(module, _STATEFUL) and not self._is_trainable(name):
                module.eval()
