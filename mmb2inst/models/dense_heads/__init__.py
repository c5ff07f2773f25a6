from .blendmask_head import BlendMaskBboxHead

__all__ = ['BlendMaskBboxHead']
