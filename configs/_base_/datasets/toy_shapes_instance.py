# The toy dataset, "boundary" preset: stars, crescents, L-shapes, rings and
# combs, one colour per class, so that recognising them is easy and the masks
# decide the score: thin prongs, arms and horns, ring holes, occlusions, and
# touching same-class instances that only a boundary separates
# (mmb2inst/datasets/toy_shapes.py). Generated on first use into `data_root`
# from `toy_generator`; other settings need another `data_root`
# (./toy_shapes_hard.py is the first, harder toy set).
custom_imports = dict(imports=['mmb2inst'], allow_failed_imports=False)

dataset_type = 'ToyShapesDataset'
data_root = 'data/toy_boundary/'
img_scale = (128, 128)
toy_generator = dict(preset='boundary')
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        generator=toy_generator,
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        generator=toy_generator,
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# COCO box and mask AP, and Boundary AP (Boundary IoU, Cheng et al. 2021):
# B2Inst is about boundaries, which mask AP barely sees.
val_evaluator = [
    dict(
        type='SafeCocoMetric',
        ann_file=data_root + 'annotations/instances_val.json',
        metric=['bbox', 'segm'],
        format_only=False,
        backend_args=backend_args),
    dict(
        type='BoundaryAPMetric',
        ann_file=data_root + 'annotations/instances_val.json',
        dilation_ratio=0.02)
]
test_evaluator = val_evaluator
