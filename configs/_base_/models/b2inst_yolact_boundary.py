# The holistic boundary basis of B2Inst-YOLACT, shared by the toy and the
# COCO configs as variables (a second `_base_` may not redefine the first
# one's `model`): `boundary={{_base_.yolact_boundary}}`.
# The predictor starts as the protonet's own projection (Xavier uniform, as
# mmdet's YOLACTProtonet) at gain 4 and the loss weighs 4, on YOLACT's loss
# scale (docs/design.md, "The boundary loss's weight per host").
yolact_boundary = dict(
    type='BoundaryBasis',
    init_cfg=[
        dict(type='Kaiming', layer='Conv2d'),
        dict(
            type='Xavier',
            distribution='uniform',
            gain=4.,
            bias=0.,
            override=dict(name='boundary_pred'))
    ],
    loss_boundary=dict(loss_weight=4.))
# Designs (b) and (c), behind BMask R-CNN's multi-scale fusion: the
# predictor at Xavier gain 1 (docs/design.md).
yolact_fusion_boundary_init = [
    dict(type='Kaiming', layer='Conv2d'),
    dict(
        type='Xavier',
        distribution='uniform',
        bias=0.,
        override=dict(name='boundary_pred'))
]
