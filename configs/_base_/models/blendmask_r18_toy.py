# Toy BlendMask: the BlendMask of ./blendmask_r50_fpn.py at CPU size: the toy
# YOLACT's backbone (half-width ResNet-18 from scratch, 128x128 input) with a
# 128-channel FPN, FCOS + attention on P3-P6 (2 convs per tower) and a
# 64-channel basis module on P3-P5, with BN. Trained from scratch: RGB input
# normalised per channel, pytorch-style ResNet, BN trained (the COCO model's
# caffe-style ResNet with frozen BN follows its ImageNet weights).
_base_ = './blendmask_r50_fpn.py'

model = dict(
    # Each component from its own seed, so that an ablation row shares its
    # baseline's initialisation wherever it does not change the model
    # (mmb2inst/models/seeded_init.py).
    init_cfg=dict(type='PerComponentSeed'),
    data_preprocessor=dict(
        mean=[123.68, 116.78, 103.94],
        std=[58.40, 57.12, 57.38],
        bgr_to_rgb=True),
    backbone=dict(
        depth=18,
        stem_channels=32,
        base_channels=32,
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=128, num_outs=4),
    bbox_head=dict(
        num_classes=5,
        in_channels=128,
        stacked_convs=2,
        feat_channels=128,
        strides=[8, 16, 32, 64],
        # Toy objects are 8-80 px: FCOS's COCO ranges scaled down by 4.
        regress_ranges=((-1, 16), (16, 32), (32, 64), (64, 1e8))),
    mask_head=dict(
        num_classes=5,
        in_channels=128,
        feat_channels=64,
        norm_cfg=dict(type='BN', requires_grad=True)),
    test_cfg=dict(min_bbox_size=0))
