# Toy BlendMask: the toy YOLACT's backbone (half-width ResNet-18 from
# scratch, 128x128 input) with a 128-channel FPN, FCOS + attention on P3-P6
# and the basis module on P3-P5. The detection head's attention count and
# size follow the mask head's (K bases, M x M), set by the BlendMask
# detector.
model = dict(
    type='BlendMask',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.68, 116.78, 103.94],
        std=[58.40, 57.12, 57.38],
        bgr_to_rgb=True,
        pad_mask=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=32,
        base_channels=32,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    neck=dict(
        type='FPN',
        in_channels=[32, 64, 128, 256],
        out_channels=128,
        start_level=1,
        add_extra_convs='on_output',
        num_outs=4,
        relu_before_extra_convs=True),
    bbox_head=dict(
        type='BlendMaskBboxHead',
        num_classes=5,
        in_channels=128,
        stacked_convs=2,
        feat_channels=128,
        strides=[8, 16, 32, 64],
        # Toy objects are 8-80 px: FCOS's COCO ranges scaled down by 4.
        regress_ranges=((-1, 16), (16, 32), (32, 64), (64, 1e8)),
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
        num_classes=5,
        in_channels=128,
        feat_channels=64,
        num_bases=4,
        attn_size=7,
        pooler_size=56,
        basis_stride=4,
        in_levels=(0, 1, 2),
        num_convs=3,
        norm_cfg=dict(type='BN', requires_grad=True),
        loss_semantic=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.3)),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=100,
        mask_thr_binary=0.5))
