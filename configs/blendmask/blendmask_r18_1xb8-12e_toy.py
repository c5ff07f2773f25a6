# BlendMask on the toy set: the toy model of _base_/models/blendmask_r18_toy.py
# with the toy YOLACT's data and schedule, so the two hosts compare on the
# same footing.
_base_ = [
    '../_base_/models/blendmask_r18_toy.py',
    '../_base_/datasets/toy_shapes_instance.py', '../_base_/toy_runtime.py',
    '../_base_/schedules/toy_adamw_12e.py'
]
