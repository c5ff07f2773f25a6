# B2Inst-YOLACT (Table 3) with the crisp-boundary term as Deng et al. define
# it: their Dice distance D - 1 (unbounded) plus HED's class-balanced
# cross-entropy summed over pixels, alpha = 1e-3, beta = 1; the shipped row
# bounds both (docs/design.md, "The boundary loss (§4.1)").
_base_ = './b2inst-yolact_r50_1xb8-55e_coco.py'

model = dict(
    mask_head=dict(
        boundary=dict(
            loss_boundary=dict(
                crisp_distance='ratio',
                crisp_wce_reduction='sum',
                crisp_alpha=1e-3))))
# Under YOLACT's SGD the ratio's gradient spikes far above the host's own and
# training diverges; a clip at the host's own gradient norm keeps it
# (docs/design.md, "Deng et al.'s crisp term under the COCO recipes").
optim_wrapper = dict(clip_grad=dict(max_norm=1000, norm_type=2))
