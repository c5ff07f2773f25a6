"""tools/model_converters/adelaidet_blendmask.py on synthetic AdelaiDet
state dicts: every key mapped or reported, the result loads strictly into
the AdelaiDet-equivalent configs, unsupported variants refused by name
before anything is written, no overwrite without --force."""
import importlib.util
import os.path as osp
import sys

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from toy_runs import ROOT

from mmb2inst.utils.checkpoint import (CheckpointMismatchError,
                                       check_checkpoint_matches)

TOOLS = osp.join(ROOT, 'tools', 'model_converters')
R50 = osp.join(ROOT, 'configs/blendmask/blendmask_m14_r50_1x_coco.py')
R101 = osp.join(ROOT, 'configs/blendmask/blendmask_m14_r101_3x_coco.py')


def load_tool(name):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, osp.join(TOOLS, f'{name}.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


converter = load_tool('adelaidet_blendmask')
parity = load_tool('adelaidet_parity')


def adelaidet_state(depth=50, **kwargs):
    """Zeros in AdelaiDet's BlendMask layout (the parity tool's key list,
    checked against AdelaiDet's own model by loading strictly)."""
    return {
        k: torch.zeros(shape, dtype=torch.long if kind == 'count' else None)
        for k, (shape,
                kind) in parity.adelaidet_shapes(depth, **kwargs).items()
    }


def build(config):
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def r50():
    state = adelaidet_state(50)
    return state, converter.convert(state)


def test_every_key_mapped_once(r50):
    state, conv = r50
    sources = [s for s, _ in conv.mapped]
    assert sorted(sources) == sorted(state)
    assert not conv.dropped
    targets = [d for _, d in conv.mapped]
    assert len(set(targets)) == len(targets)
    # the tensors themselves, not copies
    assert all(conv.state_dict[d] is state[s] for s, d in conv.mapped)
    assert conv.info == dict(
        depth=50,
        num_classes=80,
        num_bases=4,
        attn_size=14,
        basis_convs=3,
        semantic_head=True,
        ctrness_key='ctrness')


@pytest.mark.parametrize('src,dst', [
    ('backbone.bottom_up.stem.conv1.weight', 'backbone.conv1.weight'),
    ('backbone.bottom_up.stem.conv1.norm.running_var',
     'backbone.bn1.running_var'),
    ('backbone.bottom_up.res2.0.shortcut.weight',
     'backbone.layer1.0.downsample.0.weight'),
    ('backbone.bottom_up.res5.2.conv3.norm.bias',
     'backbone.layer4.2.bn3.bias'),
    ('backbone.bottom_up.res3.0.conv1.norm.running_mean',
     'backbone.layer2.0.bn1.running_mean'),
    ('backbone.fpn_lateral3.weight', 'neck.lateral_convs.0.conv.weight'),
    ('backbone.fpn_output5.bias', 'neck.fpn_convs.2.conv.bias'),
    ('backbone.top_block.p6.weight', 'neck.fpn_convs.3.conv.weight'),
    ('backbone.top_block.p7.bias', 'neck.fpn_convs.4.conv.bias'),
    ('proposal_generator.fcos_head.cls_tower.3.weight',
     'bbox_head.cls_convs.1.conv.weight'),
    ('proposal_generator.fcos_head.bbox_tower.10.bias',
     'bbox_head.reg_convs.3.gn.bias'),
    ('proposal_generator.fcos_head.ctrness.weight',
     'bbox_head.conv_centerness.weight'),
    ('top_layer.weight', 'bbox_head.controller.weight'),
    ('basis_module.refine.2.1.running_var',
     'mask_head.basis_head.refine.2.bn.running_var'),
    ('basis_module.tower.4.0.weight',
     'mask_head.basis_head.tower.4.conv.weight'),
    ('basis_module.tower.5.bias', 'mask_head.basis_head.basis_pred.bias'),
    ('basis_module.seg_head.4.num_batches_tracked',
     'mask_head.basis_head.semantic_head.1.bn.num_batches_tracked'),
    ('basis_module.seg_head.6.weight',
     'mask_head.basis_head.semantic_head.2.weight'),
])
def test_key_map(r50, src, dst):
    assert (src, dst) in r50[1].mapped


def test_added_keys(r50):
    state, conv = r50
    added = dict(conv.added)
    scales = [f'bbox_head.scales.{i}.scale' for i in range(5)]
    assert all(float(conv.state_dict[k]) == 1.0 for k in scales)
    counters = [k for k in added if k.endswith('num_batches_tracked')]
    # the backbone's FrozenBN: stem + 3 per bottleneck + 4 shortcuts
    assert len(counters) == 1 + 3 * 16 + 4
    assert all(k.startswith('backbone.') for k in counters)
    assert sorted(added) == sorted(scales + counters)


@pytest.mark.parametrize('depth,config', [(50, R50), (101, R101)])
def test_loads_strictly_into_the_adelaidet_configs(depth, config):
    conv = converter.convert(adelaidet_state(depth))
    assert conv.info['depth'] == depth
    model = build(config)
    own = model.state_dict()
    assert set(own) == set(conv.state_dict)
    assert all(own[k].shape == conv.state_dict[k].shape for k in own)
    converter.check_config(config, conv.state_dict)


def test_old_centerness_key():
    state = adelaidet_state(50)
    fcos = 'proposal_generator.fcos_head.'
    for p in ('weight', 'bias'):
        state[f'{fcos}centerness.{p}'] = state.pop(f'{fcos}ctrness.{p}')
    conv = converter.convert(state)
    assert (f'{fcos}centerness.weight',
            'bbox_head.conv_centerness.weight') in conv.mapped
    assert conv.info['ctrness_key'] == 'centerness'


def test_panoptic_head_dropped_by_name():
    state = adelaidet_state(50)
    state['panoptic_module.predictor.weight'] = torch.zeros(54, 128, 1, 1)
    conv = converter.convert(state)
    assert [k for k, _ in conv.dropped] == ['panoptic_module.predictor.weight']
    assert 'panoptic_module.predictor.weight' not in dict(conv.mapped)


def _dla(state):
    state = {
        k: v
        for k, v in state.items() if not k.startswith('backbone.bottom_up')
    }
    state['backbone.bottom_up.base_layer.0.weight'] = torch.zeros(16, 3, 7, 7)
    return state


def _dcn(state):
    state['backbone.bottom_up.res3.2.conv2_offset.weight'] = torch.zeros(
        27, 128, 3, 3)
    return state


def _shared(state):
    state['proposal_generator.fcos_head.share_tower.0.weight'] = \
        torch.zeros(256, 256, 3, 3)
    return state


def _bn_head(state):
    state['proposal_generator.fcos_head.share_tower.1.2.running_mean'] = \
        torch.zeros(256)
    return state


def _p6_only(state):
    for p in ('weight', 'bias'):
        del state[f'backbone.top_block.p7.{p}']
    return state


def _unknown(state):
    state['roi_heads.mask_head.predictor.weight'] = torch.zeros(1)
    return state


@pytest.mark.parametrize('edit,message', [
    (_dla, 'DLA'),
    (_dcn, 'dcni3'),
    (_shared, 'shared tower'),
    (_bn_head, 'per-level BN'),
    (_p6_only, 'fewer than five levels'),
    (_unknown, 'roi_heads.mask_head.predictor.weight'),
])
def test_refused_before_writing(tmp_path, capsys, edit, message):
    src, dst = tmp_path / 'src.pth', tmp_path / 'dst.pth'
    torch.save(dict(model=edit(adelaidet_state(50)), iteration=1), src)
    assert converter.main([str(src), str(dst)]) == 1
    assert message in capsys.readouterr().err
    assert not dst.exists()


def test_no_overwrite_without_force(tmp_path, capsys):
    src, dst = tmp_path / 'src.pth', tmp_path / 'dst.pth'
    torch.save(adelaidet_state(50), src)  # a plain state dict works too
    dst.write_text('keep me')
    assert converter.main([str(src), str(dst)]) == 1
    assert '--force' in capsys.readouterr().err
    assert dst.read_text() == 'keep me'
    assert converter.main([str(src), str(dst), '--force']) == 0
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['meta']['adelaidet']['attn_size'] == 14
    model = build(R50)
    load_checkpoint(model, str(dst), strict=True)


def test_check_config_names_the_mismatch():
    # M = 14 weights into the M = 7 config: the attention layer differs
    conv = converter.convert(adelaidet_state(50))
    with pytest.raises(converter.ConversionError, match='controller'):
        converter.check_config(
            osp.join(ROOT, 'configs/blendmask/blendmask_r50_1x_coco.py'),
            conv.state_dict)


def test_b2inst_starts_from_the_converted_baseline(tmp_path):
    state = adelaidet_state(50)
    state['top_layer.weight'] = torch.randn(4 * 14 * 14, 256, 3, 3)
    state['top_layer.bias'] = torch.randn(4 * 14 * 14)
    conv = converter.convert(state)
    path = tmp_path / 'baseline.pth'
    torch.save(converter.to_mmengine(conv), path)
    config = osp.join(ROOT, 'configs/b2inst_blendmask',
                      'b2inst-blendmask_m14_r50_1x_coco.py')
    assert Config.fromfile(config).load_from.endswith(
        'blendmask_m14_r50_1x_adelaidet.pth')
    model = build(config)
    init = model.bbox_head.controller.weight.detach().clone()
    result = model.load_state_dict(
        torch.load(path, weights_only=True)['state_dict'], strict=False)
    assert not result.unexpected_keys
    # exactly the B2Inst additions: the boundary basis and the scorer
    missing = set(result.missing_keys)
    added = {
        k
        for k in model.state_dict()
        if k.startswith(('mask_head.basis_head.boundary.',
                         'mask_head.scorer.'))
    }
    assert missing == added and len(added) > 0
    # the attention layer: the baseline's 4 maps, then the boundary basis's
    weight = model.bbox_head.controller.weight
    assert weight.shape[0] == 5 * 14 * 14
    assert torch.equal(weight[:4 * 196], state['top_layer.weight'])
    assert torch.equal(weight[4 * 196:], init[4 * 196:])
    assert torch.equal(model.bbox_head.controller.bias[:4 * 196],
                       state['top_layer.bias'])
    # what `mim train` checks before load_from: it fits (B2Inst's own keys
    # may be missing); the M = 7 B2Inst config's attention layer does not
    check_checkpoint_matches(model, str(path), allow_missing=True)
    with pytest.raises(CheckpointMismatchError, match='controller'):
        check_checkpoint_matches(
            build(
                osp.join(ROOT, 'configs/b2inst_blendmask',
                         'b2inst-blendmask_r50_1x_coco.py')),
            str(path),
            allow_missing=True)
    # mmengine's load_from path (load_checkpoint, strict=False) does the same
    fresh = build(config)
    load_checkpoint(fresh, str(path), strict=False)
    assert torch.equal(fresh.bbox_head.controller.weight[:4 * 196],
                       state['top_layer.weight'])


def test_b2inst_r101_3x_fits_the_converted_r101(tmp_path):
    conv = converter.convert(adelaidet_state(101))
    path = tmp_path / 'r101.pth'
    torch.save(converter.to_mmengine(conv), path)
    config = osp.join(ROOT, 'configs/b2inst_blendmask',
                      'b2inst-blendmask_m14_r101_3x_coco.py')
    assert Config.fromfile(config).load_from.endswith(
        'blendmask_m14_r101_3x_adelaidet.pth')
    check_checkpoint_matches(build(config), str(path), allow_missing=True)
