# Table 1 "+HBB +BS": the scorer with its boundary branch only; mask score =
# class score * S_boundary.
_base_ = './b2inst-blendmask_r18_1xb8-12e_toy.py'

model = dict(mask_head=dict(scorer=dict(with_iou=False)))
