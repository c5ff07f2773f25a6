# B2Inst-YOLACT with the holistic boundary basis only (Table 1 "+HBB", Table 2
# design (e), on YOLACT): the boundary map, supervised globally by the
# Laplacian boundaries of all GT masks, is the 33rd basis (32 prototypes + 1;
# the detection head's coefficients follow).
_base_ = '../yolact/yolact_r18_1xb8-12e_toy.py'

model = dict(
    type='B2InstYOLACT',
    mask_head=dict(
        type='B2InstYOLACTProtonet',
        boundary=dict(
            type='BoundaryBasis',
            # As the COCO config (b2inst-yolact_hbb_r50_1xb8-55e_coco.py):
            # the predictor initialised as the protonet's projection, weight
            # 4 on YOLACT's loss scale.
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
# Validation draws every 5th batch with its boundary panel.
default_hooks = dict(visualization=dict(draw=True, interval=5))
