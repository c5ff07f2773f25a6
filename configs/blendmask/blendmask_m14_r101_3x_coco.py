# BlendMask R-101 3x with AdelaiDet's attention size M = 14 (the paper says its
# runs use M = 7): AdelaiDet's published BlendMask R_101_3x, COCO val2017 39.5
# mask AP, 44.8 box AP; the paper's BlendMask* R-101 39.5. Checks this port
# against published numbers.
_base_ = './blendmask_r101_3x_coco.py'

model = dict(mask_head=dict(attn_size=14))
