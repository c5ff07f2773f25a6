# Table 2, design (a): the boundary loss applied locally (on the boundary map
# RoI-pooled by each GT box), single-scale, not used as a basis.
_base_ = './b2inst-yolact_hbb_r18_1xb8-12e_toy.py'

model = dict(
    mask_head=dict(boundary=dict(supervision='local', use_as_basis=False)))
