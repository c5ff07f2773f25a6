"""The configs after the restructuring (one naming scheme, model bases, derived
basis counts, class defaults) resolve to the same models, data and schedules
as before it, but for the differences listed here.

``data/config_snapshot.json.gz`` holds, for every config of commit 592f86c
(before the restructuring), its resolved sections and a hash of its model's
state-dict keys and shapes; ``python tests/test_config_equivalence.py``
wrote it from that commit's checkout.
"""
import glob
import gzip
import hashlib
import inspect
import json
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from toy_runs import ROOT

SNAPSHOT = osp.join(ROOT, 'tests', 'data', 'config_snapshot.json.gz')
SECTIONS = ('model', 'train_dataloader', 'val_dataloader', 'test_dataloader',
            'val_evaluator', 'test_evaluator', 'train_cfg', 'val_cfg',
            'test_cfg', 'optim_wrapper', 'param_scheduler', 'custom_hooks',
            'default_hooks', 'randomness', 'load_from', 'visualizer',
            'auto_scale_lr', 'env_cfg', 'log_processor')

# One naming scheme for both hosts: the unsuffixed B2Inst name is HBB + the
# scorer, `_hbb_` the boundary basis alone (design (e)).
RENAMED = {
    'b2inst_yolact/b2inst-yolact_r50_1xb8-55e_coco':
    'b2inst_yolact/b2inst-yolact_hbb_r50_1xb8-55e_coco',
    'b2inst_yolact/b2inst-yolact_hbb-bs-ms_r50_1xb8-55e_coco':
    'b2inst_yolact/b2inst-yolact_r50_1xb8-55e_coco',
    'b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy':
    'b2inst_yolact/b2inst-yolact_hbb_r18_1xb8-12e_toy',
    'b2inst_yolact/b2inst-yolact_hbb-bs-ms_r18_1xb8-12e_toy':
    'b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy',
    'b2inst_blendmask/b2inst-blendmask_design-e_r50_1x_coco':
    'b2inst_blendmask/b2inst-blendmask_hbb_r50_1x_coco',
    'b2inst_blendmask/b2inst-blendmask_design-e_r18_1xb8-12e_toy':
    'b2inst_blendmask/b2inst-blendmask_hbb_r18_1xb8-12e_toy',
    # Issue 35: MS R-CNN's scorer size, now with its linear outputs and L2
    # too, is Table 1's row with the paper's scorer.
    'b2inst_blendmask/b2inst-blendmask_msrcnn-scorer_r50_1x_coco':
    'b2inst_blendmask/b2inst-blendmask_paper-scorer_r50_1x_coco',
}
# Dropped: the design-(e) files were copies of the HBB configs; the toy
# scorer-only protocol (a scorer trained on a frozen +HBB model) gave way to
# the jointly trained rows; the R-34 / 36-epoch toy counterparts of Table 4
# are no row of the toy tables.
REMOVED = {
    'b2inst_yolact/b2inst-yolact_design-e_r50_1xb8-55e_coco',
    'b2inst_yolact/b2inst-yolact_design-e_r18_1xb8-12e_toy',
    'b2inst_blendmask/b2inst-blendmask_r18_scorer-2e_toy',
    'b2inst_blendmask/b2inst-blendmask_hbb-bs_r18_scorer-2e_toy',
    'b2inst_blendmask/b2inst-blendmask_hbb-ms_r18_scorer-2e_toy',
    'b2inst_blendmask/b2inst-blendmask_r18_1xb8-36e_toy',
    'b2inst_blendmask/b2inst-blendmask_r34_1xb8-12e_toy',
    'b2inst_blendmask/b2inst-blendmask_r34_1xb8-36e_toy',
}
ADDED = {
    'b2inst_blendmask/b2inst-blendmask_hbb-logits_r18_1xb8-12e_toy',
    'b2inst_blendmask/b2inst-blendmask_hbb-affine_r18_1xb8-12e_toy',
    'b2inst_blendmask/b2inst-blendmask_bs-ms_r18_1xb8-12e_toy',
    # Issue 33: B2Inst-BlendMask trained from AdelaiDet's published models.
    'b2inst_blendmask/b2inst-blendmask_m14_r50_1x_coco',
    'b2inst_blendmask/b2inst-blendmask_m14_r50_3x_coco',
    'b2inst_blendmask/b2inst-blendmask_m14_r101_3x_coco',
    # Issue 35: Table 4's single-scale BlendMask and the test-dev configs.
    'blendmask/blendmask_r50-ss_1x_coco',
    'blendmask/blendmask_r50-ss_1x_coco-test-dev',
    'b2inst_blendmask/b2inst-blendmask_r50_1x_coco-test-dev',
    'b2inst_blendmask/b2inst-blendmask_r50_3x_coco-test-dev',
    'b2inst_blendmask/b2inst-blendmask_r101_1x_coco-test-dev',
    'b2inst_blendmask/b2inst-blendmask_r101_3x_coco-test-dev',
    # Issue 35: Eq. (1) over each box's own size.
    'b2inst_blendmask/b2inst-blendmask_box-frame_r50_1x_coco',
    'b2inst_blendmask/b2inst-blendmask_box-frame_r18_1xb8-12e_toy',
    'b2inst_blendmask/b2inst-blendmask_hbb-bs-box-frame_r18_1xb8-12e_toy',
    'b2inst_blendmask/b2inst-blendmask_hbb-ms-box-frame_r18_1xb8-12e_toy',
    # Issue 35: the toy row of Table 1 with the paper's scorer.
    'b2inst_blendmask/b2inst-blendmask_paper-scorer_r18_1xb8-12e_toy',
    # Issue 35: the crisp-boundary term as Deng et al. define it.
    'b2inst_yolact/b2inst-yolact_crisp-deng_r50_1xb8-55e_coco',
    'b2inst_yolact/b2inst-yolact_crisp-deng_r18_1xb8-12e_toy',
    'b2inst_blendmask/b2inst-blendmask_crisp-deng_r50_1x_coco',
    'b2inst_blendmask/b2inst-blendmask_crisp-deng_r18_1xb8-12e_toy',
}
# Keys the models now derive or their hosts fill in, so the configs no longer
# state them: compared through the built model's state-dict shapes instead.
DERIVED = {
    'YOLACTHead': ('num_protos', ),
    'B2InstYOLACTHead': ('num_protos', ),
    'YOLACTProtonet': ('num_protos', ),
    'B2InstYOLACTProtonet': ('num_protos', ),
    'BlendMaskBboxHead': ('num_bases', 'attn_size'),
    'BoundaryBasis': ('in_channels', 'fpn_channels'),
    'BoundaryAwareScorer': ('in_channels', ),
    'SingleRoIExtractor': ('out_channels', ),
}
# Types whose constructor defaults the configs now rely on.
WITH_DEFAULTS = ('BoundaryBasis', 'BoundaryAwareScorer', 'BoundaryLoss')
# BlendMask's basis module is a submodule of its mask head now.
STATE_RENAMES = (('mask_head.basis_head.', 'mask_head.'), )


def _defaults(type_name: str) -> dict:
    params = inspect.signature(MODELS.get(type_name).__init__).parameters
    return {
        name: p.default
        for name, p in params.items()
        if p.default is not inspect.Parameter.empty
    }


def canonical(node):
    """JSON-like form with class defaults filled in and derived keys
    dropped."""
    if isinstance(node, (list, tuple)):
        return [canonical(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    kind = node.get('type')
    if kind in WITH_DEFAULTS:
        for name, value in _defaults(kind).items():
            node.setdefault(name, json.loads(json.dumps(value, default=str)))
    for key in DERIVED.get(kind, ()):
        node.pop(key, None)
    node.pop('_scope_', None)
    return {k: canonical(v) for k, v in node.items()}


OLD_TOY_ROOT, TOY_ROOT = 'data/toy_shapes/', 'data/toy_boundary/'


def _new_toy_set(node):
    """The first toy set -> the default (boundary) preset of issue 15."""
    if isinstance(node, dict):
        node = {k: _new_toy_set(v) for k, v in node.items()}
        if node.get('type') == 'ToyShapesDataset':
            node['generator'] = dict(preset='boundary')
        return node
    if isinstance(node, list):
        return [_new_toy_set(v) for v in node]
    if isinstance(node, str):
        return node.replace(OLD_TOY_ROOT, TOY_ROOT)
    return node


def intended(old_name: str, section: str, old, new):
    """Apply the listed intended differences to the old section."""
    if old_name.endswith('_toy'):
        old = _new_toy_set(old)
    if section.endswith('_evaluator'):
        # mmdet's CocoMetric -> SafeCocoMetric (AP 0 instead of no keys
        # when a model detects nothing).
        for ev in old if isinstance(old, list) else [old]:
            if ev.get('type') == 'CocoMetric':
                ev['type'] = 'SafeCocoMetric'
    if section == 'model' and 'blendmask' in old_name and old_name.endswith(
            '_toy'):
        # The toy BlendMask is a diff of the R-50 model now, which states
        # FCOS's default norm (GN, 32 groups) that the toy left implicit.
        old['bbox_head'].setdefault(
            'norm_cfg', dict(type='GN', num_groups=32, requires_grad=True))
    if section == 'model' and old_name.endswith('_toy'):
        # Toy scorers pool RoIs from P3-P5 (the scorer's default) instead of
        # P3-P6: every toy box is under 112 px, which SingleRoIExtractor
        # maps to P3 with either list.
        scorer = old.get('mask_head', {}).get('scorer')
        if scorer:
            scorer['roi_extractor']['featmap_strides'] = [8, 16, 32]
    if section == 'model' and old_name.endswith('_toy'):
        # Issue 15: toy detectors initialise each component from its own
        # seed, so that ablation rows share their baseline's initialisation.
        old['init_cfg'] = dict(type='PerComponentSeed')
    if section == 'model' and old_name.startswith('b2inst_yolact/'):
        # Issue 13, item 4: on YOLACT the boundary predictor starts as the
        # protonet's projection (Xavier; gain 4, or 1 behind the multi-scale
        # fusion) and the loss weighs 4, which puts its gradient on the
        # features inside the host losses' range at initialisation and after
        # training (docs/results.md).
        xavier = dict(
            type='Xavier',
            distribution='uniform',
            bias=0.,
            override=dict(name='boundary_pred'))
        if old['mask_head']['boundary'].get('fusion') != 'multi':
            xavier['gain'] = 4.
        old['mask_head']['boundary'].update(
            init_cfg=[dict(type='Kaiming', layer='Conv2d'), xavier],
            loss_boundary=dict(loss_weight=4.))
    if section == 'model' and old_name.startswith('b2inst_yolact/'):
        # Issue 36: mmdet's YOLACTHead as B2InstYOLACTHead (the same layers;
        # its K + 1 coefficient conv runs channels-last at CPU inference).
        old['bbox_head']['type'] = 'B2InstYOLACTHead'
    if section == 'model' and old_name.startswith(
            'b2inst_blendmask/') and old['mask_head'].get('boundary'):
        # Issue 13, item 4: at COCO size B2Inst-BlendMask's boundary loss
        # weighs 0.25, inside the host losses' gradient range; issue 15: so
        # does the toy's (at 1 it cost the toy BlendMask mask AP).
        old['mask_head']['boundary']['loss_boundary'] = dict(loss_weight=0.25)
    if 'blendmask' in old_name and old_name.endswith('_coco'):
        old = _adelaidet_blendmask(section, old)
    scorer = (old.get('mask_head') or {}).get('scorer') \
        if section == 'model' else None
    if scorer:
        # The scorer's losses default to binary cross-entropy on its logits
        # instead of MS R-CNN's squared error, which the snapshot's configs
        # had by default.
        for key in ('loss_iou', 'loss_boundary'):
            if scorer.get(key) == dict(type='MSELoss', loss_weight=0.5):
                scorer[key] = None
        # The snapshot's scorers had MS R-CNN's linear outputs (clamped at
        # test time); the paper-scorer row keeps them, and its losses (MS
        # R-CNN's squared error) follow from them.
        if old_name.endswith('msrcnn-scorer_r50_1x_coco'):
            scorer['score_output'] = 'linear'
    return old


def _adelaidet_blendmask(section: str, old):
    """Issue 33: the COCO BlendMask is AdelaiDet's: the MSRA caffe-style
    ResNet it trains from (stride in the 1x1 conv, BN frozen) with its input
    normalisation (BGR minus the mean, std 1); no box-size filter before NMS
    (AdelaiDet drops the boxes left empty by clipping after NMS); FCOS
    scales kept at 1 (AdelaiDet's BlendMask has none)."""
    if section == 'model':
        old['data_preprocessor'].update(
            mean=[103.53, 116.28, 123.675],
            std=[1.0, 1.0, 1.0],
            bgr_to_rgb=False)
        depth = old['backbone']['depth']
        old['backbone'].update(
            style='caffe',
            norm_cfg=dict(type='BN', requires_grad=False),
            init_cfg=dict(
                type='Pretrained',
                checkpoint=f'open-mmlab://detectron2/resnet{depth}_caffe'))
        old['test_cfg'].pop('min_bbox_size', None)
    if section == 'optim_wrapper':
        old['paramwise_cfg'] = dict(
            custom_keys={'bbox_head.scales': dict(lr_mult=0., decay_mult=0.)})
    return old


def state_hash(model) -> tuple:
    lines = []
    for key, value in model.state_dict().items():
        for new, old in STATE_RENAMES:
            key = key.replace(new, old)
        lines.append(f'{key}:{tuple(value.shape)}')
    lines.sort()
    return hashlib.sha1('\n'.join(lines).encode()).hexdigest(), len(lines)


def resolved(path: str) -> dict:
    cfg = Config.fromfile(path)
    d = cfg.to_dict()
    return json.loads(json.dumps({k: d.get(k) for k in SECTIONS}, default=str))


def current_configs():
    return sorted(
        osp.splitext(osp.relpath(p, osp.join(ROOT, 'configs')))[0]
        for p in glob.glob(
            osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
        if '_base_' not in p)


def load_snapshot() -> dict:
    with gzip.open(SNAPSHOT, 'rt') as f:
        raw = json.load(f)
    return {osp.splitext(k[len('configs/'):])[0]: v for k, v in raw.items()}


def test_every_old_config_is_accounted_for():
    old = set(load_snapshot())
    current = set(current_configs())
    kept = old - REMOVED
    for name in kept:
        assert RENAMED.get(name, name) in current, name
    # New since: toy-only ablations (the boundary basis's form, the scorer
    # without it).
    assert current == {RENAMED.get(n, n) for n in kept} | ADDED


@pytest.mark.slow
@pytest.mark.parametrize('old_name', sorted(set(load_snapshot()) - REMOVED))
def test_config_resolves_as_before(old_name):
    snapshot = load_snapshot()[old_name]
    new_name = RENAMED.get(old_name, old_name)
    new = resolved(osp.join(ROOT, 'configs', new_name + '.py'))
    for section in SECTIONS:
        old = intended(old_name, section, snapshot[section], new[section])
        assert canonical(new[section]) == canonical(old), section
    cfg = Config.fromfile(osp.join(ROOT, 'configs', new_name + '.py'))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    digest, count = state_hash(MODELS.build(cfg.model))
    assert count == snapshot['num_state_tensors']
    assert digest == snapshot['state_shapes_sha1']


def write_snapshot() -> None:  # pragma: no cover  (how the snapshot was made)
    out = {}
    for name in current_configs():
        path = osp.join(ROOT, 'configs', name + '.py')
        entry = resolved(path)
        cfg = Config.fromfile(path)
        cfg.model.backbone.init_cfg = None
        digest, count = state_hash(MODELS.build(cfg.model))
        entry.update(state_shapes_sha1=digest, num_state_tensors=count)
        out[f'configs/{name}.py'] = entry
    with gzip.open(SNAPSHOT, 'wt') as f:
        json.dump(out, f, sort_keys=True, default=str)


if __name__ == '__main__':  # pragma: no cover
    from mmdet.utils import register_all_modules

    import mmb2inst  # noqa: F401
    register_all_modules()
    write_snapshot()
