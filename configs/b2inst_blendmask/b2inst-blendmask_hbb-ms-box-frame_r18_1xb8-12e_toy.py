# Table 1 "+HBB +MS" with the mask IoU target over each box's own height and
# width (longest side capped at 112 px) instead of the fixed 28 x 28 frame.
_base_ = './b2inst-blendmask_hbb-ms_r18_1xb8-12e_toy.py'

model = dict(mask_head=dict(scorer=dict(target_frame='box')))
