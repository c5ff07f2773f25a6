# B2Inst-BlendMask (Table 1 "+HBB +BS +MS", Table 3): the holistic boundary
# basis and the boundary-aware mask scorer (S_IoU and S_boundary; test score =
# class score * sqrt(S_IoU * S_boundary), Eq. 2).
_base_ = './b2inst-blendmask_hbb_r18_1xb8-12e_toy.py'

model = dict(mask_head=dict(scorer=dict(type='BoundaryAwareScorer')))
