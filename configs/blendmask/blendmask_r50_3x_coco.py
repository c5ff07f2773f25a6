# BlendMask R-50 3x (M = 7, the paper's attention size): the 1x model
# trained 3x longer, as AdelaiDet's R_50_3x recipe (270k iterations, lr
# steps at 210k and 250k, multi-scale 640-800). The baseline of Table 4's
# B2Inst-BlendMask R-50 3x.
_base_ = './blendmask_r50_1x_coco.py'

max_iter = 270000
train_cfg = dict(max_iters=max_iter)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=1000),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iter,
        by_epoch=False,
        milestones=[210000, 250000],
        gamma=0.1)
]
