# BlendMask R-50 1x on COCO, as AdelaiDet's BlendMask R_50_1x and the
# paper's baseline (Tables 1-4): FCOS (GN heads, centre sampling 1.5, GIoU,
# centerness on the box tower) with the attention top layer (K=4 bases,
# M=7 as in the paper; AdelaiDet uses 14), the basis module on P3-P5 with
# the auxiliary semantic loss (weight 0.3), the blender at 56x56.
# Schedule: 90k iterations, batch 16 (8 GPUs x 2), lr 0.01, steps 60k/80k,
# multi-scale training 640-800, test 800/1333 (mmdet's common 90k recipe).
_base_ = 'mmdet::common/ms-poly-90k_coco-instance.py'
custom_imports = dict(imports=['mmb2inst'], allow_failed_imports=False)

num_classes = 80
num_bases = 4
attn_size = 7
model = dict(
    type='BlendMask',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(
        type='FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        start_level=1,
        add_extra_convs='on_output',  # P6, P7 from P5
        num_outs=5,
        relu_before_extra_convs=True),
    bbox_head=dict(
        type='BlendMaskBboxHead',
        num_bases=num_bases,
        attn_size=attn_size,
        num_classes=num_classes,
        in_channels=256,
        stacked_convs=4,
        feat_channels=256,
        strides=[8, 16, 32, 64, 128],
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        norm_on_bbox=True,
        centerness_on_reg=True,
        dcn_on_last_conv=False,
        center_sampling=True,
        center_sample_radius=1.5,
        conv_bias=True,
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    mask_head=dict(
        type='BlendMaskHead',
        num_classes=num_classes,
        in_channels=256,
        feat_channels=128,
        num_bases=num_bases,
        attn_size=attn_size,
        pooler_size=56,
        basis_stride=4,
        in_levels=(0, 1, 2),
        num_convs=3,
        # Batch statistics across GPUs (2 images per GPU); MMEngine reverts
        # SyncBN to BN when training on one device.
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        loss_semantic=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.3)),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=100,
        mask_thr_binary=0.5))

optim_wrapper = dict(optimizer=dict(lr=0.01))

# mmdet's CocoDataset, reporting the annotations it cannot use.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = val_dataloader

# COCO box and mask AP, and Boundary AP (Boundary IoU, Cheng et al. 2021).
val_evaluator = [
    dict(
        type='CocoMetric',
        ann_file='data/coco/annotations/instances_val2017.json',
        metric=['bbox', 'segm'],
        format_only=False),
    dict(
        type='BoundaryAPMetric',
        ann_file='data/coco/annotations/instances_val2017.json',
        dilation_ratio=0.02)
]
test_evaluator = val_evaluator

# Stop a diverging run before it saves; the random state in checkpoints
# (--resume continues with the augmentation and sampling of the
# uninterrupted run).
custom_hooks = [dict(type='LossGuardHook'), dict(type='RNGStateHook')]
