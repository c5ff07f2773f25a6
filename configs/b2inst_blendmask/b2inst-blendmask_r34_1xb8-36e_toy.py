# Toy counterpart of Table 4's R-101 3x row: deeper backbone, 3x schedule.
_base_ = './b2inst-blendmask_r18_1xb8-36e_toy.py'

model = dict(backbone=dict(depth=34))
