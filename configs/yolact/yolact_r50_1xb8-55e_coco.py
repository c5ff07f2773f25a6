# YOLACT R-50, 550x550, COCO (Table 3, row "YOLACT"): MMDetection's own
# config; the model, pipelines and schedule are upstream's. Added: the
# dataset reports annotations it cannot use, Boundary AP beside box and mask
# AP, a guard that stops a diverging run before it saves, and the random
# state in checkpoints (--resume continues the uninterrupted run).
_base_ = 'mmdet::yolact/yolact_r50_1xb8-55e_coco.py'

custom_imports = dict(imports=['mmb2inst'], allow_failed_imports=False)

train_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
val_dataloader = dict(dataset=dict(type='CheckedCocoDataset'))
test_dataloader = val_dataloader
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
custom_hooks = [
    dict(type='CheckInvalidLossHook', interval=50, priority='VERY_LOW'),
    dict(type='LossGuardHook'),
    dict(type='RNGStateHook')
]
