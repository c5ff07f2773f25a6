# Table 2, design (c): design (b) with the boundary map used as a basis.
_base_ = './b2inst-yolact_hbb_r50_1xb8-55e_coco.py'

# The predictor at Xavier gain 1 behind the fusion branch
# (../_base_/models/b2inst_yolact_boundary.py says why).
model = dict(
    mask_head=dict(
        boundary=dict(
            fusion='multi', init_cfg={{_base_.yolact_fusion_boundary_init}})))
