# YOLACT R-50, 550x550, COCO (Table 3, row "YOLACT"): MMDetection's own
# config; the model, pipelines and schedule are upstream's, with the dataset,
# metrics and hooks of ../_base_/coco_b2inst.py.
_base_ = [
    'mmdet::yolact/yolact_r50_1xb8-55e_coco.py', '../_base_/coco_b2inst.py'
]
custom_imports = dict(imports=['mmb2inst'], allow_failed_imports=False)
# MMEngine's runner, reading MMEngine's checkpoints under torch >= 2.6.
runner_type = 'mmdet.B2InstRunner'

train_dataloader = {{_base_.checked_coco}}
val_dataloader = {{_base_.checked_coco}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.coco_evaluators}}
test_evaluator = val_evaluator
custom_hooks = [
    dict(type='CheckInvalidLossHook', interval=50, priority='VERY_LOW'),
    dict(type='LossGuardHook'),
    dict(type='RNGStateHook')
]
