# Table 4, B2Inst-BlendMask R-101 1x: the R-50 1x model with ResNet-101.
_base_ = './b2inst-blendmask_r50_1x_coco.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet101_caffe')))
