# B2Inst-YOLACT R-50 with boundary-aware mask scoring (Table 1, row
# "HBB + BS + MS", on YOLACT): B2Inst-YOLACT plus the light scorer of
# B2Inst-BlendMask (4 convs of 64, the first with stride 2, fcs of 256, 14x14
# RoIs on P3-P5; see ../b2inst_blendmask/b2inst-blendmask_r50_1x_coco.py).
# Test score = class score * sqrt(S_IoU * S_boundary).
_base_ = './b2inst-yolact_r50_1xb8-55e_coco.py'

model = dict(
    mask_head=dict(
        scorer=dict(
            type='BoundaryAwareScorer',
            in_channels=256,
            roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(
                    type='RoIAlign', output_size=14, sampling_ratio=0),
                out_channels=256,
                featmap_strides=[8, 16, 32]),
            num_convs=4,
            conv_channels=64,
            downsample_first=True,
            fc_channels=256,
            with_iou=True,
            with_boundary=True,
            loss_iou=dict(type='MSELoss', loss_weight=0.5),
            loss_boundary=dict(type='MSELoss', loss_weight=0.5))))
