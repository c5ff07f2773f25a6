from .b2inst_yolact_protonet import B2InstYOLACTProtonet

__all__ = ['B2InstYOLACTProtonet']
