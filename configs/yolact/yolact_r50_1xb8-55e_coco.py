# YOLACT R-50, 550x550, COCO (Table 3, row "YOLACT"): MMDetection's own
# config, unchanged, so the baseline is exactly upstream's.
_base_ = 'mmdet::yolact/yolact_r50_1xb8-55e_coco.py'

custom_imports = dict(imports=['mmb2inst'], allow_failed_imports=False)
# Upstream's hooks, plus the random state in checkpoints: --resume continues
# with the augmentation and sampling of the uninterrupted run.
custom_hooks = [
    dict(type='CheckInvalidLossHook', interval=50, priority='VERY_LOW'),
    dict(type='RNGStateHook')
]
