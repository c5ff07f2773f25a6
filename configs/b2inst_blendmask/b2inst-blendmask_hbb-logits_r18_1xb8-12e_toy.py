# Toy ablation, not a row of the paper's tables: +HBB on BlendMask with the
# boundary basis handed to the blender as its logits instead of its
# probabilities.
_base_ = './b2inst-blendmask_hbb_r18_1xb8-12e_toy.py'

model = dict(mask_head=dict(boundary=dict(basis_form='logits')))
