# B2Inst-BlendMask R-50 3x at M = 14 from AdelaiDet's published BlendMask
# R_50_3x (converted; see ./b2inst-blendmask_m14_r50_1x_coco.py).
_base_ = './b2inst-blendmask_r50_3x_coco.py'

model = dict(mask_head=dict(attn_size=14))
load_from = 'checkpoints/blendmask_m14_r50_3x_adelaidet.pth'
