# YOLACT on the toy set (the baseline of the quick start): the toy model of
# _base_/models/yolact_r18_toy.py, the toy data and the 12-epoch AdamW
# schedule.
_base_ = [
    '../_base_/models/yolact_r18_toy.py',
    '../_base_/datasets/toy_shapes_instance.py', '../_base_/toy_runtime.py',
    '../_base_/schedules/toy_adamw_12e.py'
]
