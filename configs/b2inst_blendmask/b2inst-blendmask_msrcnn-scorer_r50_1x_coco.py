# B2Inst-BlendMask R-50 1x with a scorer the size of Mask Scoring R-CNN's
# MaskIoUHead (4 convs of 256 at 14x14, the last with stride 2, fcs of 1024)
# instead of the light default. Not a row of the paper's tables.
_base_ = './b2inst-blendmask_r50_1x_coco.py'

model = dict(
    mask_head=dict(
        scorer=dict(
            conv_channels=256, downsample_first=False, fc_channels=1024)))
