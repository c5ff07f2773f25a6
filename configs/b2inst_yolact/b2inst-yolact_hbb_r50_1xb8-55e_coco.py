# B2Inst-YOLACT with the holistic boundary basis only (Table 1 "+HBB", Table 2
# design (e), on YOLACT): the boundary map, supervised globally by the
# Laplacian boundaries of all GT masks, is the 33rd basis (32 prototypes + 1;
# the detection head's coefficients follow).
_base_ = '../yolact/yolact_r50_1xb8-55e_coco.py'

model = dict(
    type='B2InstYOLACT',
    mask_head=dict(
        type='B2InstYOLACTProtonet',
        boundary=dict(
            type='BoundaryBasis',
            # YOLACT's losses are large by construction (OHEM-summed
            # classification, mask loss weight 6.125, semantic loss summed
            # over classes): at weight 1 with the 1-channel predictor at std
            # 0.01 the boundary loss pulled on the FPN features 3-180x less
            # than the weakest of them. The predictor starts as the
            # protonet's own projection (Xavier uniform, as mmdet's
            # YOLACTProtonet) and the loss weighs 4: inside the host's range
            # after training, the best toy mask AP of the weights tried (1,
            # 4, 16; docs/results.md, "The boundary loss's weight on
            # YOLACT").
            init_cfg=[
                dict(type='Kaiming', layer='Conv2d'),
                dict(
                    type='Xavier',
                    distribution='uniform',
                    bias=0.,
                    override=dict(name='boundary_pred'))
            ],
            loss_boundary=dict(loss_weight=4.))))
# Pictures (test --show-dir, validation drawing) get a third panel: the
# predicted holistic boundary map.
visualizer = dict(type='B2InstLocalVisualizer')
