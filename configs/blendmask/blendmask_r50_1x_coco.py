# BlendMask R-50 1x on COCO, the paper's baseline (Tables 1-3): the model of
# _base_/models/blendmask_r50_fpn.py with AdelaiDet's 1x schedule (90k
# iterations, batch 16 = 8 GPUs x 2, lr 0.01, steps 60k/80k, multi-scale
# training 640-800, test 800/1333; mmdet's common 90k recipe), with the
# dataset, metrics and hooks of ../_base_/coco_b2inst.py.
_base_ = [
    'mmdet::common/ms-poly-90k_coco-instance.py',
    '../_base_/models/blendmask_r50_fpn.py', '../_base_/coco_b2inst.py'
]
custom_imports = dict(imports=['mmb2inst'], allow_failed_imports=False)
# MMEngine's runner, reading MMEngine's checkpoints under torch >= 2.6.
runner_type = 'mmdet.B2InstRunner'

optim_wrapper = dict(
    optimizer=dict(lr=0.01),
    # AdelaiDet's BlendMask has no FCOS scales (USE_SCALE: False): mmdet's
    # stay at 1.
    paramwise_cfg=dict(
        custom_keys={'bbox_head.scales': dict(lr_mult=0., decay_mult=0.)}))

train_dataloader = {{_base_.checked_coco}}
val_dataloader = {{_base_.checked_coco}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.coco_evaluators}}
test_evaluator = val_evaluator
custom_hooks = {{_base_.b2inst_hooks}}
