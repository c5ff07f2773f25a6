# Toy counterpart of Table 4's 3x rows: the toy B2Inst-BlendMask trained 3x
# longer (36 epochs, same cosine schedule stretched).
_base_ = './b2inst-blendmask_r18_1xb8-12e_toy.py'

max_epochs = 36
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(
        type='CosineAnnealingLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        eta_min_ratio=0.05,
        convert_to_iter_based=True)
]
