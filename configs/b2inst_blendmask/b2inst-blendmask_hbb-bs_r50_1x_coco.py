# Table 1 "+HBB +BS": the scorer with its boundary branch only; mask score =
# class score * S_boundary.
_base_ = './b2inst-blendmask_r50_1x_coco.py'

model = dict(mask_head=dict(scorer=dict(with_iou=False)))
