# Table 2, design (c): design (b) with the boundary map used as a basis.
_base_ = './b2inst-yolact_hbb_r18_1xb8-12e_toy.py'

model = dict(mask_head=dict(boundary=dict(fusion='multi')))
