# Table 2, design (c): (b) + the boundary prediction used as the extra basis.
_base_ = './b2inst-blendmask_design-e_r18_1xb8-12e_toy.py'

model = dict(mask_head=dict(boundary=dict(fusion='multi')))
