# BlendMask R-50 3x with AdelaiDet's attention size M = 14 (the paper says its
# runs use M = 7): AdelaiDet's published BlendMask R_50_3x, COCO val2017 37.8
# mask AP, 42.7 box AP. Checks this port against published numbers.
_base_ = './blendmask_r50_3x_coco.py'

model = dict(mask_head=dict(attn_size=14))
