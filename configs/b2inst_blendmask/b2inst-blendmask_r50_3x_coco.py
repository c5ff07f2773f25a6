# Table 4, B2Inst-BlendMask R-50 3x: BlendMask R-50 3x (AdelaiDet's 270k
# schedule) with the holistic boundary basis and the boundary-aware scorer.
_base_ = '../blendmask/blendmask_r50_3x_coco.py'

model = dict(
    mask_head=dict(
        boundary=dict(type='BoundaryBasis'),
        scorer=dict(type='BoundaryAwareScorer')))
visualizer = dict(type='B2InstLocalVisualizer')
