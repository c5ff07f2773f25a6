# B2Inst-BlendMask R-50 1x, COCO (Table 3 row "B2Inst-BlendMask", Table 1
# row "+HBB +BS +MS", Table 4 R-50 1x): the holistic boundary basis (design
# (e)) plus the full-size boundary-aware mask scorer of §4.2 (4 convs of 256,
# fcs of 1024, 14x14 RoIs on P3-P5, as Mask Scoring R-CNN's MaskIoUHead).
# Mask score at test time = class score * sqrt(S_IoU * S_boundary) (Eq. 2).
_base_ = './b2inst-blendmask_design-e_r50_1x_coco.py'

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
            conv_channels=256,
            fc_channels=1024,
            with_iou=True,
            with_boundary=True,
            loss_iou=dict(type='MSELoss', loss_weight=0.5),
            loss_boundary=dict(type='MSELoss', loss_weight=0.5))))
