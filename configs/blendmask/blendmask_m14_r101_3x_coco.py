# AdelaiDet's BlendMask R_101_3x (configs/BlendMask/R_101_3x.yaml), the
# paper's BlendMask* R-101 (Table 4): the BlendMask R-101 3x with AdelaiDet's
# attention size M = 14 (the paper's own runs use M = 7), for weights
# converted by tools/model_converters/adelaidet_blendmask.py.
_base_ = './blendmask_r101_3x_coco.py'

model = dict(mask_head=dict(attn_size=14))
