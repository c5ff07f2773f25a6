from .freeze_hook import FreezeModulesHook
from .loss_guard_hook import LossGuardHook
from .rng_state_hook import RNGStateHook

__all__ = ['FreezeModulesHook', 'LossGuardHook', 'RNGStateHook']
