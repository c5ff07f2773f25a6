# Table 4, B2Inst-BlendMask R-50 3x: BlendMask R-50 3x (AdelaiDet's 270k
# schedule) with the holistic boundary basis and the boundary-aware scorer.
_base_ = '../blendmask/blendmask_r50_3x_coco.py'

model = dict(
    mask_head=dict(
        # the boundary loss weight of b2inst-blendmask_hbb_r50_1x_coco.py
        boundary=dict(
            type='BoundaryBasis', loss_boundary=dict(loss_weight=0.25)),
        scorer=dict(type='BoundaryAwareScorer')))
visualizer = dict(type='B2InstLocalVisualizer')
