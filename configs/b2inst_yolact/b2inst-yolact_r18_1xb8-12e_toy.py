# Toy B2Inst-YOLACT (design (e)): the quick-start YOLACT plus the holistic
# boundary basis, supervised globally and used as the 33rd basis.
_base_ = '../yolact/yolact_r18_1xb8-12e_toy.py'

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
# Draw every 5th validation batch (into <work_dir>/<timestamp>/vis_data).
default_hooks = dict(visualization=dict(draw=True, interval=5))
