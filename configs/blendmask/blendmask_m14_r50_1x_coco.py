# AdelaiDet's BlendMask R_50_1x (configs/BlendMask/R_50_1x.yaml): the
# BlendMask R-50 1x with AdelaiDet's attention size M = 14 (the paper says its
# runs use M = 7). With weights converted by
# tools/model_converters/adelaidet_blendmask.py it computes AdelaiDet's
# outputs (tests/model_converters/test_adelaidet_parity.py); AdelaiDet
# publishes 35.8 mask AP / 39.9 box AP on COCO val2017 for it (the paper's
# BlendMask*: 35.8).
_base_ = './blendmask_r50_1x_coco.py'

model = dict(mask_head=dict(attn_size=14))
