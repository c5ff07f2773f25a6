# Table 1 row "+HBB" and Table 2 design (e): BlendMask plus the holistic
# boundary basis, supervised globally (BCE + Dice + crisp boundary loss
# against the Laplacian boundaries of all GT masks) and used as the 5th
# basis the attentions weigh (K + 1 = 5 attention maps per instance).
_base_ = '../blendmask/blendmask_r18_1xb8-12e_toy.py'

model = dict(
    bbox_head=dict(num_bases=5),
    mask_head=dict(
        boundary=dict(
            type='BoundaryBasis',
            supervision='global',
            fusion='single',
            use_as_basis=True,
            loss_boundary=dict(type='BoundaryLoss'))))
visualizer = dict(type='B2InstLocalVisualizer')
# Pictures (test --show-dir, validation drawing) get a third panel: the
# predicted holistic boundary map; draw every 5th validation batch.
default_hooks = dict(visualization=dict(draw=True, interval=5))
