# The first toy set, "hard" preset: the classes differ only by their outline
# (colours are independent of the class) on textured noise, with more and
# smaller objects, so that recognition, not the masks, limits the score. Use
# it instead of ./toy_shapes_instance.py: `_base_` swap, or
# --cfg-options {train,val,test}_dataloader.dataset.data_root=data/toy_hard/
# {...}.dataset.generator.preset=hard and the evaluators' ann_file
# (`toy_tables.py --preset hard` trains the tables' rows so).
_base_ = './toy_shapes_instance.py'

data_root = 'data/toy_hard/'
toy_generator = dict(preset='hard')
train_dataloader = dict(
    dataset=dict(data_root=data_root, generator=toy_generator))
val_dataloader = dict(
    dataset=dict(data_root=data_root, generator=toy_generator))
test_dataloader = val_dataloader
val_evaluator = [
    dict(
        type='SafeCocoMetric',
        ann_file=data_root + 'annotations/instances_val.json',
        metric=['bbox', 'segm'],
        format_only=False),
    dict(
        type='BoundaryAPMetric',
        ann_file=data_root + 'annotations/instances_val.json',
        dilation_ratio=0.02)
]
test_evaluator = val_evaluator
