# Ablation (toy): the boundary basis handed to BlendMask's blender as
# a * p + b with a learned scale and shift (from 1 and 0), instead of its
# probabilities: the blender's softmax over bases makes a convex mix, which a
# [0, 1] basis can only pull into [0, 1] (python tools/tables.py basis).
_base_ = './b2inst-blendmask_hbb_r18_1xb8-12e_toy.py'

model = dict(mask_head=dict(boundary=dict(basis_form='affine')))
