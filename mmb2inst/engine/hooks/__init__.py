from .freeze_hook import FreezeModulesHook
from .rng_state_hook import RNGStateHook

__all__ = ['FreezeModulesHook', 'RNGStateHook']
