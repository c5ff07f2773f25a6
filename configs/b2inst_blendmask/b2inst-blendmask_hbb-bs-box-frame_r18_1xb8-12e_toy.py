# Table 1 "+HBB +BS" with Eq. (1) over each box's own height and width
# (longest side capped at 112 px) instead of the fixed 28 x 28 frame.
_base_ = './b2inst-blendmask_hbb-bs_r18_1xb8-12e_toy.py'

model = dict(mask_head=dict(scorer=dict(target_frame='box')))
