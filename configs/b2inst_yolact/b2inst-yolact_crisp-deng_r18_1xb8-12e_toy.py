# B2Inst-YOLACT (Table 3) with the crisp-boundary term as Deng et al. define
# it: their Dice distance D - 1 (unbounded) plus HED's class-balanced
# cross-entropy summed over pixels, alpha = 1e-3, beta = 1; the shipped row
# bounds both (docs/design.md, "The boundary loss (§4.1)"). The toy recipe
# clips gradients already (max_norm 35).
_base_ = './b2inst-yolact_r18_1xb8-12e_toy.py'

model = dict(
    mask_head=dict(
        boundary=dict(
            loss_boundary=dict(
                crisp_distance='ratio',
                crisp_wce_reduction='sum',
                crisp_alpha=1e-3))))
