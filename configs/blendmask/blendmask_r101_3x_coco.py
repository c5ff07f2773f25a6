# BlendMask R-101 3x (M = 7): the R-50 3x model with ResNet-101. The
# baseline of Table 4's B2Inst-BlendMask R-101 3x.
_base_ = './blendmask_r50_3x_coco.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet101_caffe')))
