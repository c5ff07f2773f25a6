from .inferencer import B2InstInferencer

__all__ = ['B2InstInferencer']
