# BlendMask R-50 FPN for COCO, as AdelaiDet's BlendMask R_50_1x: the MSRA
# caffe-style ResNet it starts from (stride in the 1x1 conv, BGR input minus
# the ImageNet mean, std 1; stem + res2 frozen, BN frozen as Detectron2's
# FrozenBN), FCOS (GN heads, centre sampling 1.5, GIoU, centerness on the
# box tower) with the attention top layer, the basis module on P3-P5 (K = 4
# bases, 128 channels) with the auxiliary semantic loss (weight 0.3), the
# blender at 56x56, and AdelaiDet's inference (class x centerness > 0.05
# before the per-level top 1000, NMS 0.6, 100 per image; see
# BlendMaskBboxHead). Attention size M = 7 as in the paper (AdelaiDet: 14).
# The detection head's attention count and size follow the mask head's.
model = dict(
    type='BlendMask',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[103.53, 116.28, 123.675],
        std=[1.0, 1.0, 1.0],
        bgr_to_rgb=False,
        pad_mask=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='caffe',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet50_caffe')),
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
        num_classes=80,
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
        num_classes=80,
        in_channels=256,
        feat_channels=128,
        num_bases=4,
        attn_size=7,
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
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=100,
        mask_thr_binary=0.5))
