"""mmb2inst: B2Inst for MMDetection 3.x.

Importing the package registers every module into MMDetection's registries
(configs load it with ``custom_imports=dict(imports=['mmb2inst'])``) and
changes nothing else.
"""
from . import datasets, engine, evaluation, models, structures, visualization
from .version import __version__

__all__ = [
    '__version__', 'datasets', 'engine', 'evaluation', 'models', 'structures',
    'visualization'
]
