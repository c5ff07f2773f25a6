# B2Inst-BlendMask R-50 1x, COCO (Table 3 row "B2Inst-BlendMask", Table 1
# row "+HBB +BS +MS", Table 4 R-50 1x): the holistic boundary basis (design
# (e)) plus the boundary-aware mask scorer of §4.2: 4 convs and two fc
# branches on 14x14 RoIs of P3-P5, as Mask Scoring R-CNN's MaskIoUHead, but
# light: the first conv has the stride 2 and the stack is 64 channels wide, fcs
# of 256. It costs +0.7% of BlendMask's FLOPs at 100 detections per image
# (the whole model +1.7%, target <= 3%); the MaskIoUHead-sized scorer costs
# +20% (./b2inst-blendmask_msrcnn-scorer_r50_1x_coco.py).
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
            conv_channels=64,
            downsample_first=True,
            fc_channels=256,
            with_iou=True,
            with_boundary=True,
            loss_iou=dict(type='MSELoss', loss_weight=0.5),
            loss_boundary=dict(type='MSELoss', loss_weight=0.5))))
