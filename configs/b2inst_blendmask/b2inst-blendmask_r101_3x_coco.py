# Table 4, B2Inst-BlendMask R-101 3x: the R-50 3x model with ResNet-101.
_base_ = './b2inst-blendmask_r50_3x_coco.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet101_caffe')))
