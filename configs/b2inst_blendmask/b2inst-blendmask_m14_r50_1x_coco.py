# B2Inst-BlendMask R-50 1x (boundary basis + boundary-aware scorer) at
# AdelaiDet's attention size M = 14, trained from AdelaiDet's published
# BlendMask R_50_1x converted by tools/model_converters/adelaidet_blendmask.py
# (README, "Start from published weights"). Every weight of the baseline
# loads; the attention layer's first K = 4 maps are the baseline's, the
# boundary basis's map and the B2Inst modules (mask_head.basis_head.boundary,
# mask_head.scorer) start from their initialisation.
_base_ = './b2inst-blendmask_r50_1x_coco.py'

model = dict(mask_head=dict(attn_size=14))
load_from = 'checkpoints/blendmask_m14_r50_1x_adelaidet.pth'
