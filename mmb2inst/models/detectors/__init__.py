from .b2inst_yolact import B2InstYOLACT
from .blendmask import BlendMask

__all__ = ['B2InstYOLACT', 'BlendMask']
