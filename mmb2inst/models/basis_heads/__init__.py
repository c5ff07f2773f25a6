from .blendmask_basis import BlendMaskBasisHead
from .boundary_basis import BoundaryBasis

__all__ = ['BlendMaskBasisHead', 'BoundaryBasis']
