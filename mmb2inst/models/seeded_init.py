"""Initialisation that pairs ablation rows: every component from its own
random stream.

A model's ``init_weights`` draws all its random tensors from one stream, in
module order. A B2Inst row adds modules to its baseline (the boundary
branch, the scorer, one more attention channel), so with the same seed
every tensor drawn after the first added one differs from the baseline's:
on the toy BlendMask, 47 of the 133 parameter tensors the two models share,
the backbone's included, started differently. Then a seed's paired
difference carries the luck of two initialisations instead of one, and the
pairing buys nothing.

``init_cfg=dict(type='PerComponentSeed')`` on the detector initialises each
top-level component (backbone, neck, bbox_head, mask_head, ...) with its
own ``init_weights`` under a random stream seeded by the run's seed and the
component's name, so that whatever a row adds or removes in one component,
the others start identically.
"""
import zlib

import torch
from mmengine.model.weight_init import BaseInit
from mmengine.registry import WEIGHT_INITIALIZERS
from torch import nn


def component_seed(seed: int, name: str) -> int:
    """The seed of component ``name`` in a run seeded with ``seed``
    (stable across processes and machines, unlike ``hash``)."""
    return zlib.crc32(f'{seed}/{name}'.encode())


@WEIGHT_INITIALIZERS.register_module(name='PerComponentSeed')
class PerComponentSeedInit(BaseInit):
    """Calls each child's ``init_weights`` under its own seed.

    The run's seed is the one the CPU generator was last seeded with
    (``torch.initial_seed()``: MMEngine's ``randomness.seed``). The global
    random state is left as it was. Children initialised here are marked
    initialised, so ``BaseModule.init_weights`` does not initialise them
    again; children without ``init_weights`` keep their construction-time
    values.
    """

    def __call__(self, module: nn.Module) -> None:
        seed = torch.initial_seed()
        for name, child in module.named_children():
            if not hasattr(child, 'init_weights') or getattr(
                    child, 'is_init', False):
                continue
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(component_seed(seed, name))
                child.init_weights()
