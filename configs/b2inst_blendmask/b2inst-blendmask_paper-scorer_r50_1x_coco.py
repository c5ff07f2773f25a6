# Table 1 "+HBB +BS +MS" with the scorer as the paper describes it, Mask
# Scoring R-CNN's MaskIoUHead with a boundary branch: 4 convs of 256 at
# 14x14, the last with stride 2, fcs of 1024, linear outputs trained with
# MS R-CNN's squared error (weight 0.5), clamped to [0, 1] for Eq. 2. The
# shipped B2Inst-BlendMask has the light scorer (sigmoid outputs, BCE).
_base_ = './b2inst-blendmask_r50_1x_coco.py'

model = dict(
    mask_head=dict(
        scorer=dict(
            conv_channels=256,
            downsample_first=False,
            fc_channels=1024,
            score_output='linear')))
