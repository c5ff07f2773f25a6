# BlendMask R-50 1x with AdelaiDet's attention size M = 14 (the paper says its
# runs use M = 7): AdelaiDet's published BlendMask R_50_1x, COCO val2017 35.8
# mask AP, 39.9 box AP; the paper's BlendMask* 35.8. Checks this port against
# published numbers.
_base_ = './blendmask_r50_1x_coco.py'

model = dict(mask_head=dict(attn_size=14))
