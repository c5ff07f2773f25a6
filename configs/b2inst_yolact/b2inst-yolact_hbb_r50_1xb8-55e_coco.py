# B2Inst-YOLACT with the holistic boundary basis only (Table 1 "+HBB", Table 2
# design (e), on YOLACT): the boundary map, supervised globally by the
# Laplacian boundaries of all GT masks, is the 33rd basis (32 prototypes + 1;
# the detection head's coefficients follow).
_base_ = [
    '../yolact/yolact_r50_1xb8-55e_coco.py',
    '../_base_/models/b2inst_yolact_boundary.py'
]

# The boundary basis, its predictor's initialisation and its loss weight on
# YOLACT's loss scale: ../_base_/models/b2inst_yolact_boundary.py.
model = dict(
    type='B2InstYOLACT',
    bbox_head=dict(type='B2InstYOLACTHead'),
    mask_head=dict(
        type='B2InstYOLACTProtonet', boundary={{_base_.yolact_boundary}}))
# Pictures (test --show-dir, validation drawing) get a third panel: the
# predicted holistic boundary map.
visualizer = dict(type='B2InstLocalVisualizer')
