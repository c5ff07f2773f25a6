# AdelaiDet's BlendMask R_50_1x (configs/BlendMask/R_50_1x.yaml), the
# paper's BlendMask* (Table 3): the BlendMask R-50 1x with AdelaiDet's
# attention size M = 14 (the paper's own runs use M = 7), for weights
# converted by tools/model_converters/adelaidet_blendmask.py.
_base_ = './blendmask_r50_1x_coco.py'

model = dict(mask_head=dict(attn_size=14))
