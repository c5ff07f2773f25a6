# B2Inst-BlendMask R-50 1x (Table 1 "+HBB +BS +MS") with Eq. (1) over each
# box's own height and width in network-input pixels (longest side capped at
# 112 px), as the paper states it, instead of the fixed 28 x 28 frame.
_base_ = './b2inst-blendmask_r50_1x_coco.py'

model = dict(mask_head=dict(scorer=dict(target_frame='box')))
