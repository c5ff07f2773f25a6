# Toy B2Inst-YOLACT with boundary-aware mask scoring (Table 1, row
# "HBB + BS + MS"): the toy B2Inst-YOLACT plus the scorer, sized for the toy
# FPN (96 channels, strides 8-64) and with a narrower conv stack and fcs.
# Test score = class score * sqrt(S_IoU * S_boundary) (Eq. 2).
_base_ = './b2inst-yolact_r18_1xb8-12e_toy.py'

model = dict(
    mask_head=dict(
        scorer=dict(
            type='BoundaryAwareScorer',
            in_channels=96,
            roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(
                    type='RoIAlign', output_size=14, sampling_ratio=0),
                out_channels=96,
                featmap_strides=[8, 16, 32, 64]),
            num_convs=4,
            conv_channels=64,
            downsample_first=True,
            fc_channels=256,
            with_iou=True,
            with_boundary=True,
            loss_iou=dict(type='MSELoss', loss_weight=0.5),
            loss_boundary=dict(type='MSELoss', loss_weight=0.5))))
