# B2Inst-BlendMask with the holistic boundary basis only (Table 1 "+HBB",
# Table 2 design (e)): the boundary map, supervised globally by the Laplacian
# boundaries of all GT masks, is the 5th basis the attentions weigh (K + 1 = 5
# attention maps per instance; the detection head follows).
_base_ = '../blendmask/blendmask_r18_1xb8-12e_toy.py'

model = dict(
    mask_head=dict(
        boundary=dict(
            type='BoundaryBasis',
            # BlendMask's boundary loss weight, as in the COCO configs
            # (docs/design.md, "The boundary loss's weight per host").
            loss_boundary=dict(loss_weight=0.25))))
# Pictures (test --show-dir, validation drawing) get a third panel: the
# predicted holistic boundary map.
visualizer = dict(type='B2InstLocalVisualizer')
# Validation draws every 5th batch with its boundary panel.
default_hooks = dict(visualization=dict(draw=True, interval=5))
