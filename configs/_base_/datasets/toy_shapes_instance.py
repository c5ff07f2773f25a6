# The toy dataset: stars, crescents, L-shapes, rings and combs with textures,
# noise, occlusions and touching same-class instances (see README, "Toy
# dataset"). Generated on first use into `data_root` from `toy_generator`;
# change the settings there (or run tools/make_toy_dataset.py) for a bigger or
# harder set, with a new `data_root`.
custom_imports = dict(imports=['mmb2inst'], allow_failed_imports=False)

dataset_type = 'ToyShapesDataset'
data_root = 'data/toy_shapes/'
img_scale = (128, 128)
toy_generator = dict(
    num_train=1000, num_val=100, img_size=128, difficulty=0.3, seed=0)
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
        type='CocoMetric',
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
