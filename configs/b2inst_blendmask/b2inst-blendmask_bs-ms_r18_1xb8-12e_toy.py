# Toy ablation, not a row of the paper's tables: BlendMask with the
# boundary-aware mask scorer (S_IoU and S_boundary, Eq. 2) but without the
# holistic boundary basis, the fourth corner of {HBB, scorer} beside
# BlendMask, +HBB and B2Inst-BlendMask.
_base_ = '../blendmask/blendmask_r18_1xb8-12e_toy.py'

model = dict(mask_head=dict(scorer=dict(type='BoundaryAwareScorer')))
