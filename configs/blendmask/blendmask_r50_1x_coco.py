# BlendMask R-50 1x on COCO, the paper's baseline (Tables 1-3): the model of
# _base_/models/blendmask_r50_fpn.py with AdelaiDet's 1x schedule (90k
# iterations, batch 16 = 8 GPUs x 2, lr 0.01, steps 60k/80k, multi-scale
# training 640-800, test 800/1333; mmdet's common 90k recipe).
_base_ = [
    'mmdet::common/ms-poly-90k_coco-instance.py',
    '../_base_/models/blendmask_r50_fpn.py'
]
custom_imports = dict(imports=['mmb2inst'], allow_failed_imports=False)

optim_wrapper = dict(optimizer=dict(lr=0.01))

# mmdet's CocoDataset, reporting the annotations it cannot use.
train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = val_dataloader

# COCO box and mask AP, and Boundary AP (Boundary IoU, Cheng et al. 2021).
val_evaluator = [
    dict(
        type='SafeCocoMetric',
        ann_file='data/coco/annotations/instances_val2017.json',
        metric=['bbox', 'segm'],
        format_only=False),
    dict(
        type='BoundaryAPMetric',
        ann_file='data/coco/annotations/instances_val2017.json',
        dilation_ratio=0.02)
]
test_evaluator = val_evaluator

# Stop a diverging run before it saves; the random state in checkpoints
# (--resume continues with the augmentation and sampling of the
# uninterrupted run).
custom_hooks = [dict(type='LossGuardHook'), dict(type='RNGStateHook')]
