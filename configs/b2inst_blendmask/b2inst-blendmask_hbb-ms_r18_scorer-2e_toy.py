# Toy protocol of Table 1 row "+HBB +MS" on a CPU budget: the trained toy
# +HBB model (design (e), seed 0, from tools/toy_ablation.sh) with only the
# scorer trained, 2 epochs, everything else frozen (weights and BN
# statistics). Masks and boxes are then exactly those of the +HBB row, so the
# row differs from it by the mask scores alone. Train the joint model with
# ./b2inst-blendmask_hbb-ms_r18_1xb8-12e_toy.py instead when time allows.
_base_ = './b2inst-blendmask_hbb-ms_r18_1xb8-12e_toy.py'

load_from = ('work_dirs/ablation/'
             'b2inst-blendmask_design-e_r18_1xb8-12e_toy_seed0/epoch_12.pth')
custom_hooks = [
    dict(type='FreezeModulesHook', trainable=['mask_head.scorer']),
    dict(type='RNGStateHook')
]
max_epochs = 2
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        eta_min_ratio=0.05,
        convert_to_iter_based=True)
]
