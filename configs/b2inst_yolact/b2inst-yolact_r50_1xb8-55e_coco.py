# B2Inst-YOLACT R-50, 550x550, COCO (Table 3, row "B2Inst-YOLACT"; Table 2
# design (e)): YOLACT plus the holistic boundary basis, supervised globally
# and used as the 33rd basis (32 prototypes + 1 boundary basis).
_base_ = '../yolact/yolact_r50_1xb8-55e_coco.py'

model = dict(
    type='B2InstYOLACT',
    bbox_head=dict(num_protos=33),
    mask_head=dict(
        type='B2InstYOLACTProtonet',
        num_protos=33,
        boundary=dict(
            type='BoundaryBasis',
            supervision='global',
            fusion='single',
            use_as_basis=True,
            loss_boundary=dict(type='BoundaryLoss'))))
# Pictures (test --show-dir, validation drawing) get a third panel: the
# predicted holistic boundary map.
visualizer = dict(type='B2InstLocalVisualizer')
