# Table 2, design (b): BMask R-CNN's multi-scale fusion, the boundary loss on
# the whole map, not used as a basis.
_base_ = './b2inst-yolact_hbb_r50_1xb8-55e_coco.py'

model = dict(mask_head=dict(boundary=dict(fusion='multi', use_as_basis=False)))
