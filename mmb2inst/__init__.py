"""mmb2inst: B2Inst for MMDetection 3.x.

Importing the package registers every module into MMDetection's registries
(configs load it with ``custom_imports=dict(imports=['mmb2inst'])``) and lets
``torch.load`` read the checkpoints MMEngine writes (see
:mod:`mmb2inst.utils.checkpoint`).
"""
from . import datasets, engine, evaluation, models, structures, visualization
from .utils.checkpoint import allow_mmengine_checkpoints
from .version import __version__

allow_mmengine_checkpoints()

__all__ = [
    '__version__', 'datasets', 'engine', 'evaluation', 'models', 'structures',
    'visualization'
]
