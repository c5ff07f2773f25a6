# Toy protocol of Table 1 row "+HBB +BS" (see ./b2inst-blendmask_r18_scorer-
# 2e_toy.py): the scorer with its boundary branch only, trained on the frozen
# +HBB model; mask score = class score * S_boundary.
_base_ = './b2inst-blendmask_r18_scorer-2e_toy.py'

model = dict(mask_head=dict(scorer=dict(with_iou=False)))
