# Table 2, design (b): BMask R-CNN's multi-scale fusion, boundary loss on the
# whole map, not used as a basis.
_base_ = './b2inst-yolact_r18_1xb8-12e_toy.py'

model = dict(
    bbox_head=dict(num_protos=32),
    mask_head=dict(
        num_protos=32, boundary=dict(fusion='multi', use_as_basis=False)))
