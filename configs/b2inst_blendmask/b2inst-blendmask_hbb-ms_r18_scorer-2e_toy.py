# Toy protocol of Table 1 row "+HBB +MS" (see ./b2inst-blendmask_r18_scorer-
# 2e_toy.py): the scorer with its mask-IoU branch only, trained on the frozen
# +HBB model; mask score = class score * S_IoU.
_base_ = './b2inst-blendmask_r18_scorer-2e_toy.py'

model = dict(mask_head=dict(scorer=dict(with_boundary=False)))
