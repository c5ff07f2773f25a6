# B2Inst-BlendMask (Table 1 "+HBB +BS +MS") with Eq. (1) over each box's own
# height and width (longest side capped at 112 px), as the paper states it,
# instead of the fixed 28 x 28 frame: the scorer's targets and its mask and
# boundary inputs.
_base_ = './b2inst-blendmask_r18_1xb8-12e_toy.py'

model = dict(mask_head=dict(scorer=dict(target_frame='box')))
