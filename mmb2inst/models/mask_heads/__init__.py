from .b2inst_yolact_protonet import B2InstYOLACTProtonet
from .blender import blend, centerness_targets, paste_masks, pool_bases
from .blendmask_mask_head import BlendMaskHead

__all__ = [
    'B2InstYOLACTProtonet', 'BlendMaskHead', 'blend', 'centerness_targets',
    'paste_masks', 'pool_bases'
]
