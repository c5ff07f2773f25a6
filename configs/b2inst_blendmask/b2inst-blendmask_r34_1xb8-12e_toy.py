# Toy counterpart of Table 4's R-101 rows: the toy B2Inst-BlendMask with a
# deeper backbone (half-width ResNet-34 instead of ResNet-18).
_base_ = './b2inst-blendmask_r18_1xb8-12e_toy.py'

model = dict(backbone=dict(depth=34))
