# Table 2, design (c): (b) + the boundary prediction used as the extra basis.
_base_ = './b2inst-blendmask_design-e_r50_1x_coco.py'

model = dict(mask_head=dict(boundary=dict(fusion='multi')))
