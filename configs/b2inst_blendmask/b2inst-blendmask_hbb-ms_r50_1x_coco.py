# Table 1 "+HBB +MS": the scorer with its IoU branch only (Mask Scoring
# R-CNN's score); mask score = class score * S_IoU.
_base_ = './b2inst-blendmask_r50_1x_coco.py'

model = dict(mask_head=dict(scorer=dict(with_boundary=False)))
