# Table 2, design (b): BMask R-CNN's multi-scale fusion, the boundary loss on
# the whole map, not used as a basis.
_base_ = './b2inst-blendmask_hbb_r18_1xb8-12e_toy.py'

model = dict(mask_head=dict(boundary=dict(fusion='multi', use_as_basis=False)))
