# Table 2, design (e), the paper's default: (d) + the boundary prediction used
# as the extra basis. Identical to b2inst-yolact_r18_1xb8-12e_toy.py.
_base_ = './b2inst-yolact_r18_1xb8-12e_toy.py'
