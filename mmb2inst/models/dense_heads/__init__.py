from .b2inst_yolact_head import B2InstYOLACTHead
from .blendmask_bbox_head import BlendMaskBboxHead

__all__ = ['B2InstYOLACTHead', 'BlendMaskBboxHead']
