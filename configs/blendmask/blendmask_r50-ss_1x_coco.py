# Table 4, BlendMask R-50 1x without multi-scale training ("Aug." unticked):
# blendmask_r50_1x_coco.py trained at the test scale only (shorter side 800,
# longer at most 1333).
_base_ = './blendmask_r50_1x_coco.py'

train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(
            type='LoadImageFromFile',
            backend_args=None,
            imdecode_backend='pillow'),
        dict(
            type='LoadAnnotations',
            with_bbox=True,
            with_mask=True,
            poly2mask=False),
        dict(
            type='Resize',
            scale=(1333, 800),
            keep_ratio=True,
            backend='pillow'),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackDetInputs')
    ]))
