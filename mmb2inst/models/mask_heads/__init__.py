from .b2inst_yolact_protonet import B2InstYOLACTProtonet
from .blender import blend, paste_masks, pool_bases, semantic_targets
from .blendmask_head import BlendMaskHead

__all__ = [
    'B2InstYOLACTProtonet', 'BlendMaskHead', 'blend', 'paste_masks',
    'pool_bases', 'semantic_targets'
]
