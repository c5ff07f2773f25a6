# Toy B2Inst-BlendMask (Table 1 row "+HBB +BS +MS", Table 3 row
# "B2Inst-BlendMask"): the holistic boundary basis (design (e)) plus the
# boundary-aware mask scorer, sized for the toy FPN (128 channels, strides
# 8-64; narrower convs and fcs).
# Mask score at test time = class score * sqrt(S_IoU * S_boundary) (Eq. 2).
_base_ = './b2inst-blendmask_design-e_r18_1xb8-12e_toy.py'

model = dict(
    mask_head=dict(
        scorer=dict(
            type='BoundaryAwareScorer',
            in_channels=128,
            roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(
                    type='RoIAlign', output_size=14, sampling_ratio=0),
                out_channels=128,
                featmap_strides=[8, 16, 32, 64]),
            num_convs=4,
            conv_channels=64,
            downsample_first=True,
            fc_channels=256,
            with_iou=True,
            with_boundary=True,
            loss_iou=dict(type='MSELoss', loss_weight=0.5),
            loss_boundary=dict(type='MSELoss', loss_weight=0.5))))
