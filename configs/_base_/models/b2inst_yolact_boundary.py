# The holistic boundary basis of B2Inst-YOLACT, shared by the toy and the
# COCO configs as variables (a second `_base_` may not redefine the first
# one's `model`): `boundary={{_base_.yolact_boundary}}`.
#
# YOLACT's losses are large by construction (OHEM-summed classification, mask
# loss weight 6.125, semantic loss summed over classes): at weight 1 with the
# 1-channel predictor at std 0.01 the boundary loss pulled on the FPN features
# 3-180x less than the weakest of them. The predictor starts as the protonet's
# own projection (Xavier uniform, as mmdet's YOLACTProtonet) at gain 4, and
# the loss weighs 4: inside the host's gradient range at initialisation and
# after training, on the toy and at COCO size (tools/analysis/
# loss_grad_norms.py; docs/results.md, "The boundary loss's weight on
# YOLACT"). The weight was chosen on the toy among 1, 4 and 16; gain 4 gains
# 1 toy mask AP over gain 1.
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
# Behind BMask R-CNN's multi-scale fusion (designs (b), (c)) the boundary loss
# is inside the range already at gain 1, and at gain 4 it diverges under the
# COCO configs' SGD (loss_boundary 3.3e7 at iteration 6): gain 1 (the
# default) there.
yolact_fusion_boundary_init = [
    dict(type='Kaiming', layer='Conv2d'),
    dict(
        type='Xavier',
        distribution='uniform',
        bias=0.,
        override=dict(name='boundary_pred'))
]
