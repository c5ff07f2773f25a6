# Table 2, design (a): boundary loss applied locally (on the boundary map
# RoI-pooled by each GT box), single-scale, not used as a basis.
_base_ = './b2inst-blendmask_design-e_r18_1xb8-12e_toy.py'

model = dict(
    bbox_head=dict(num_bases=4),
    mask_head=dict(boundary=dict(supervision='local', use_as_basis=False)))
