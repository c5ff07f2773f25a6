# Table 2, design (d): the boundary loss on the whole map, single-scale, not
# used as a basis (design (e), the default, uses it).
_base_ = './b2inst-blendmask_hbb_r50_1x_coco.py'

model = dict(mask_head=dict(boundary=dict(use_as_basis=False)))
