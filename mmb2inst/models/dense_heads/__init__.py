from .blendmask_bbox_head import BlendMaskBboxHead

__all__ = ['BlendMaskBboxHead']
