# What mmb2inst's COCO configs add to MMDetection's COCO settings, as
# variables (a second `_base_` may not redefine the first one's keys):
# the dataset that names the annotations it cannot use, box and mask AP
# (AP 0, not nothing, without detections) and Boundary AP (Boundary IoU,
# Cheng et al. 2021), and the hooks that stop a diverging run before it saves
# and keep the random state in checkpoints (--resume continues the
# uninterrupted run). Used as `val_evaluator = {{_base_.coco_evaluators}}`.
checked_coco = dict(dataset=dict(type='CheckedCocoDataset'))
coco_evaluators = [
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
b2inst_hooks = [dict(type='LossGuardHook'), dict(type='RNGStateHook')]
# COCO test-dev2017 (Table 4): image records without annotations, as
# `test_dataloader = {{_base_.coco_test_dev}}` in the *_coco-test-dev.py
# configs.
coco_test_dev = dict(
    dataset=dict(
        ann_file='annotations/image_info_test-dev2017.json',
        data_prefix=dict(img='test2017/')))
