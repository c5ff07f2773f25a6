from .b2inst_yolact import B2InstYOLACT

__all__ = ['B2InstYOLACT']
