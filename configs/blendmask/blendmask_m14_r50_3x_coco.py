# AdelaiDet's BlendMask R_50_3x (configs/BlendMask/R_50_3x.yaml): the
# BlendMask R-50 3x with AdelaiDet's attention size M = 14 (the paper's own
# runs use M = 7), for weights converted by
# tools/model_converters/adelaidet_blendmask.py.
_base_ = './blendmask_r50_3x_coco.py'

model = dict(mask_head=dict(attn_size=14))
