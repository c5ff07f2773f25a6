# AdelaiDet's BlendMask R_101_3x (configs/BlendMask/R_101_3x.yaml): the
# BlendMask R-101 3x with AdelaiDet's attention size M = 14 (the paper says
# its runs use M = 7); takes weights converted by
# tools/model_converters/adelaidet_blendmask.py. AdelaiDet publishes 39.5
# mask AP / 44.8 box AP on COCO val2017 for it (the paper's BlendMask*
# 39.5).
_base_ = './blendmask_r101_3x_coco.py'

model = dict(mask_head=dict(attn_size=14))
