# AdelaiDet's BlendMask R_50_3x (configs/BlendMask/R_50_3x.yaml): the
# BlendMask R-50 3x with AdelaiDet's attention size M = 14 (the paper says its
# runs use M = 7); takes weights converted by
# tools/model_converters/adelaidet_blendmask.py. AdelaiDet publishes 37.8
# mask AP / 42.7 box AP on COCO val2017 for it.
_base_ = './blendmask_r50_3x_coco.py'

model = dict(mask_head=dict(attn_size=14))
