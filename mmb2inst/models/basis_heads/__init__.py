from .boundary_basis import BoundaryBasis

__all__ = ['BoundaryBasis']
