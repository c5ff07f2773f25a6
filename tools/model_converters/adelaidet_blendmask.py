"""Convert an AdelaiDet BlendMask checkpoint to an mmb2inst checkpoint.

    python tools/model_converters/adelaidet_blendmask.py SRC DST [--force]
        [--check-config CONFIG]

SRC is AdelaiDet's Detectron2 ``.pth`` (a dict holding ``model``) or a plain
state dict of the models of ``configs/BlendMask/R_50_1x.yaml``,
``R_50_3x.yaml`` and ``R_101_3x.yaml`` (ResNet FPN, FCOS with GN towers,
the attention "top layer", the basis module). DST is an mmengine checkpoint
for ``configs/blendmask/blendmask_m14_r{50,101}_{1x,3x}_coco.py``
(``mim test mmb2inst CONFIG --checkpoint DST``) or, through ``load_from``,
a start for the B2Inst-BlendMask configs.

Every source tensor is mapped or named as dropped; keys the target needs
and the source does not hold (BN ``num_batches_tracked``, FCOS scales, which
AdelaiDet's BlendMask does not use: ``USE_SCALE: False``) are added and
listed. Variants without an mmb2inst model are refused by name before
anything is written: DLA backbones, deformable ResNets (``dcni3``), the
shared-tower heads of the ``RT`` and ``550`` models, heads with per-level
BN. ``--check-config`` builds the config's model and loads the result
strictly (needs mmdet).
"""
import argparse
import os.path as osp
import re
import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Tuple

import torch

# ResNet block counts (res2-res5) -> depth, as Detectron2 and mmdet build.
DEPTHS = {
    (2, 2, 2, 2): 18,
    (3, 4, 6, 3): 34,
    (3, 4, 23, 3): 101,
    (3, 8, 36, 3): 152
}
BOTTLENECK_DEPTHS = {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101, (3, 8, 36, 3): 152}
FCOS = 'proposal_generator.fcos_head.'
BASIS = 'basis_module.'
BN_BUFFERS = ('weight', 'bias', 'running_mean', 'running_var')


class ConversionError(Exception):
    """A checkpoint this converter does not map; nothing was written."""


@dataclass
class Conversion:
    """The converted state dict and what happened to every key.

    Attributes:
        state_dict: mmb2inst keys -> tensors.
        mapped: ``(source key, target key)`` pairs.
        dropped: ``(source key, reason)`` pairs.
        added: ``(target key, reason)`` pairs (not in the source).
        info: the model read off the shapes: ``depth``, ``num_classes``,
            ``num_bases`` (K), ``attn_size`` (M), ``basis_convs``,
            ``semantic_head``, ``ctrness_key``.
    """
    state_dict: 'OrderedDict[str, torch.Tensor]' = field(
        default_factory=OrderedDict)
    mapped: List[Tuple[str, str]] = field(default_factory=list)
    dropped: List[Tuple[str, str]] = field(default_factory=list)
    added: List[Tuple[str, str]] = field(default_factory=list)
    info: dict = field(default_factory=dict)


def read_checkpoint(path: str) -> Dict[str, torch.Tensor]:
    """The state dict of a Detectron2 ``.pth`` (``ckpt['model']``) or of a
    plain state dict file, as CPU tensors."""
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # pickled non-tensor objects (trainer state)
        print(f'note: {path} holds more than tensors ({type(err).__name__}); '
              'loading it with weights_only=False (only do this with '
              'checkpoints you trust)')
        ckpt = torch.load(path, map_location='cpu', weights_only=False)
    if not isinstance(ckpt, Mapping):
        raise ConversionError(f'{path}: not a checkpoint dict but a '
                              f'{type(ckpt).__name__}')
    state = ckpt.get('model', ckpt)
    if 'state_dict' in state and 'model' not in ckpt:
        raise ConversionError(
            f'{path} looks like an mmengine checkpoint (it has '
            "'state_dict'), not an AdelaiDet one; it needs no conversion")
    out = OrderedDict()
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            try:
                value = torch.as_tensor(value)
            except Exception:
                raise ConversionError(
                    f'{path}: {key!r} is a {type(value).__name__}, not a '
                    'tensor; is this a Detectron2 model checkpoint?')
        out[key] = value
    return out


def refuse_unsupported(keys) -> None:
    """Raise :class:`ConversionError` naming the AdelaiDet variant when the
    keys belong to a BlendMask mmb2inst has no model for."""
    keys = list(keys)

    def any_key(pattern):
        return [k for k in keys if re.search(pattern, k)]

    checks = [
        (r'^backbone\.bottom_up\.(base_layer|level\d)',
         'a DLA backbone (DLA_34_syncbn_4x); mmb2inst configs use ResNet'),
        (r'^backbone\.bottom_up\.res\d\.\d+\.conv2_offset\.',
         'a deformable ResNet (the dcni3 models, DEFORM_ON_PER_STAGE); '
         'mmb2inst has no BlendMask config with DCN in the backbone'),
        (r'^' + re.escape(FCOS) + r'(cls|bbox|share)_tower\.\d+\.\d+\.',
         'an FCOS head with per-level BN (the bn-head RT model, FCOS.NORM '
         'BN/SyncBN); mmdet FCOS heads share their norm over levels'),
        (r'^' + re.escape(FCOS) + r'share_tower\.',
         'an FCOS head with a shared tower (the RT and 550 models, '
         'NUM_SHARE_CONVS > 0); mmb2inst has separate class/box towers'),
        (r'^' + re.escape(FCOS) + r'(cls|bbox)_tower\.\d+\.(offset|'
         r'conv_offset)', 'a deformable FCOS tower (FCOS.USE_DEFORMABLE)'),
    ]
    for pattern, what in checks:
        hits = any_key(pattern)
        if hits:
            raise ConversionError(
                f'this checkpoint is {what}: not converted (e.g. {hits[0]!r})'
                '. Convertible: BlendMask R_50_1x, R_50_3x, R_101_3x.')
    if not any_key(r'^backbone\.bottom_up\.stem\.conv1\.'):
        raise ConversionError(
            'no backbone.bottom_up.stem.conv1: not an AdelaiDet ResNet '
            'checkpoint (keys start with ' +
            ', '.join(sorted({k.split('.')[0]
                              for k in keys})[:6]) + ')')
    if not any_key(r'^backbone\.top_block\.p7\.'):
        raise ConversionError(
            'no backbone.top_block.p7: an FCOS on fewer than five levels '
            '(the RT / 550 models, FCOS.TOP_LEVELS < 2); mmb2inst\'s '
            'BlendMask reads P3-P7')
    if not any_key(r'^top_layer\.') or not any_key(r'^basis_module\.'):
        raise ConversionError(
            'no top_layer / basis_module keys: not a BlendMask checkpoint '
            '(FCOS alone, CondInst, ...?)')


def _backbone(key: str, blocks: Dict[int, int]):
    """Target key of a ``backbone.bottom_up.*`` key, or None."""
    rest = key[len('backbone.bottom_up.'):]
    m = re.fullmatch(r'stem\.conv1\.weight', rest)
    if m:
        return 'backbone.conv1.weight'
    m = re.fullmatch(r'stem\.conv1\.norm\.(\w+)', rest)
    if m:
        return f'backbone.bn1.{m.group(1)}'
    m = re.fullmatch(r'res(\d)\.(\d+)\.(conv\d|shortcut)\.(norm\.)?(\w+)',
                     rest)
    if not m:
        return None
    stage, block, conv, norm, param = m.groups()
    stage, block = int(stage), int(block)
    if stage not in (2, 3, 4, 5):
        return None
    blocks[stage] = max(blocks.get(stage, 0), block + 1)
    prefix = f'backbone.layer{stage - 1}.{block}.'
    if conv == 'shortcut':
        return prefix + ('downsample.1.' if norm else 'downsample.0.') + param
    if norm:
        return prefix + f'bn{conv[-1]}.{param}'
    return prefix + f'{conv}.{param}'


def _tower_index(key: str, name: str):
    m = re.fullmatch(re.escape(FCOS + name) + r'\.(\d+)\.(\w+)', key)
    return (int(m.group(1)), m.group(2)) if m else None


def convert(state: Mapping[str, torch.Tensor]) -> Conversion:
    """Map an AdelaiDet BlendMask state dict to mmb2inst's BlendMask keys.

    Args:
        state: AdelaiDet keys -> tensors (``checkpoint['model']``).

    Returns:
        Conversion: the state dict and the key report.

    Raises:
        ConversionError: unsupported variants (by name) and source keys it
            does not know (all listed).
    """
    refuse_unsupported(state)
    conv = Conversion()
    unknown = []
    blocks: Dict[int, int] = {}
    fcos_levels = set()
    basis_tower = {}

    def put(src, dst, value=None):
        conv.state_dict[dst] = (state[src] if value is None else value)
        conv.mapped.append((src, dst))

    fpn = {'fpn_lateral': 'lateral_convs', 'fpn_output': 'fpn_convs'}
    fcos_convs = {'cls_tower': 'cls_convs', 'bbox_tower': 'reg_convs'}
    fcos_preds = {
        'cls_logits': 'conv_cls',
        'bbox_pred': 'conv_reg',
        'ctrness': 'conv_centerness',
        'centerness': 'conv_centerness'  # FCOS heads before the rename
    }
    for key in state:
        if key.startswith('backbone.bottom_up.'):
            dst = _backbone(key, blocks)
            if dst is None:
                unknown.append(key)
            else:
                put(key, dst)
            continue
        m = re.fullmatch(r'backbone\.(fpn_lateral|fpn_output)(\d)\.(\w+)', key)
        if m and m.group(2) in '345':
            put(
                key, f'neck.{fpn[m.group(1)]}.{int(m.group(2)) - 3}.conv.'
                f'{m.group(3)}')
            continue
        m = re.fullmatch(r'backbone\.top_block\.p([67])\.(\w+)', key)
        if m:
            put(key, f'neck.fpn_convs.{int(m.group(1)) - 3}.conv.{m.group(2)}')
            continue
        if key.startswith(FCOS):
            rest = key[len(FCOS):]
            tower = rest.split('.')[0]
            if tower in fcos_convs and _tower_index(key, tower):
                idx, param = _tower_index(key, tower)
                # [conv, GN, ReLU] per layer
                kind = {0: 'conv', 1: 'gn'}.get(idx % 3)
                if kind is None:
                    unknown.append(key)
                    continue
                put(
                    key, f'bbox_head.{fcos_convs[tower]}.{idx // 3}.{kind}.'
                    f'{param}')
                continue
            m = re.fullmatch(r'(\w+)\.(weight|bias)', rest)
            if m and m.group(1) in fcos_preds:
                put(key, f'bbox_head.{fcos_preds[m.group(1)]}.{m.group(2)}')
                continue
            m = re.fullmatch(r'scales\.(\d+)\.scale', rest)
            if m:
                fcos_levels.add(int(m.group(1)))
                put(key, f'bbox_head.scales.{m.group(1)}.scale')
                continue
            unknown.append(key)
            continue
        m = re.fullmatch(r'top_layer\.(weight|bias)', key)
        if m:
            put(key, f'bbox_head.controller.{m.group(1)}')
            continue
        if key.startswith(BASIS):
            rest = key[len(BASIS):]
            m = re.fullmatch(r'refine\.(\d+)\.([01])\.(\w+)', rest)
            if m:
                part = 'conv' if m.group(2) == '0' else 'bn'
                put(
                    key, f'mask_head.basis_head.refine.{m.group(1)}.{part}.'
                    f'{m.group(3)}')
                continue
            m = re.fullmatch(r'tower\.(\d+)\.(?:([01])\.)?(\w+)', rest)
            if m:
                # resolved below, when the tower's length is known
                basis_tower[key] = (int(m.group(1)), m.group(2), m.group(3))
                continue
            # seg_head: conv, BN, ReLU, conv, BN, ReLU, 1x1 conv
            m = re.fullmatch(r'seg_head\.([0-9])\.(\w+)', rest)
            seg = {
                '0': 'semantic_head.0.conv',
                '1': 'semantic_head.0.bn',
                '3': 'semantic_head.1.conv',
                '4': 'semantic_head.1.bn',
                '6': 'semantic_head.2'
            }
            if m and m.group(1) in seg:
                put(key,
                    f'mask_head.basis_head.{seg[m.group(1)]}.{m.group(2)}')
                continue
            unknown.append(key)
            continue
        if key.startswith('panoptic_module.'):
            conv.dropped.append(
                (key, 'panoptic stuff head (PANOPTIC_FPN.COMBINE); '
                 'mmb2inst\'s BlendMask is instance segmentation only'))
            continue
        if key in ('pixel_mean', 'pixel_std'):
            conv.dropped.append((key, 'input normalisation: the config\'s '
                                 'data_preprocessor holds it'))
            continue
        unknown.append(key)

    if basis_tower:
        last = max(i for i, _, _ in basis_tower.values())
        for key, (idx, part, param) in basis_tower.items():
            if idx == last and part is None:
                put(key, f'mask_head.basis_head.basis_pred.{param}')
            elif idx < last and part is not None:
                name = 'conv' if part == '0' else 'bn'
                put(key, f'mask_head.basis_head.tower.{idx}.{name}.{param}')
            else:
                unknown.append(key)
    if unknown:
        raise ConversionError(
            f'{len(unknown)} source key(s) this converter does not know, '
            'nothing written: ' + ', '.join(unknown[:20]) +
            (' ...' if len(unknown) > 20 else ''))

    counts = tuple(blocks.get(s, 0) for s in (2, 3, 4, 5))
    bottleneck = any(
        k.endswith('.conv3.weight') for k in state
        if k.startswith('backbone.bottom_up.res'))
    depth = (BOTTLENECK_DEPTHS if bottleneck else DEPTHS).get(counts)
    if depth is None:
        raise ConversionError(
            f'ResNet with {counts} blocks in res2-res5 '
            f'({"bottleneck" if bottleneck else "basic"} blocks): no mmdet '
            'ResNet depth has that layout')

    _add_missing(conv, fcos_levels)
    top = state['top_layer.weight']
    basis_pred = conv.state_dict['mask_head.basis_head.basis_pred.weight']
    num_bases = basis_pred.shape[0]
    attn_size = int(round((top.shape[0] / num_bases)**0.5))
    if num_bases * attn_size**2 != top.shape[0]:
        raise ConversionError(
            f'top_layer has {top.shape[0]} outputs, not K * M * M for the '
            f'basis module\'s K = {num_bases} bases')
    ctr = [k for k in state if re.match(re.escape(FCOS) + r'c\w*ness\.', k)]
    conv.info = dict(
        depth=depth,
        num_classes=conv.state_dict['bbox_head.conv_cls.weight'].shape[0],
        num_bases=num_bases,
        attn_size=attn_size,
        basis_convs=last - 2 if basis_tower else 0,
        semantic_head=any('semantic_head' in d for _, d in conv.mapped),
        ctrness_key=ctr[0].split('.')[-2] if ctr else None)
    return conv


def _add_missing(conv: Conversion, fcos_levels) -> None:
    """BN ``num_batches_tracked`` (Detectron2's FrozenBN has none) and the
    FCOS scales AdelaiDet's BlendMask does not use (``USE_SCALE: False``:
    a scale of 1 is the identity)."""
    sd = conv.state_dict
    for key in list(sd):
        if key.endswith('.running_var'):
            nbt = key[:-len('running_var')] + 'num_batches_tracked'
            if nbt not in sd:
                sd[nbt] = torch.tensor(0, dtype=torch.long)
                conv.added.append(
                    (nbt, 'BN counter (Detectron2 FrozenBN has none); '
                     'unused in eval-mode and frozen BN'))
    if not fcos_levels:
        for level in range(5):
            key = f'bbox_head.scales.{level}.scale'
            sd[key] = torch.tensor(1.0)
            conv.added.append(
                (key, 'FCOS scale 1.0 (AdelaiDet BlendMask: USE_SCALE '
                 'False, no scale)'))
    elif fcos_levels != set(range(5)):
        raise ConversionError(
            f'FCOS scales for levels {sorted(fcos_levels)}, expected 0-4')


def to_mmengine(conv: Conversion, source: str = '') -> dict:
    """The mmengine checkpoint dict (``state_dict`` + ``meta``)."""
    return dict(
        state_dict=conv.state_dict,
        meta=dict(
            converted_from=osp.basename(source),
            converter='tools/model_converters/adelaidet_blendmask.py',
            adelaidet=conv.info))


def suggested_config(info: dict) -> str:
    return (f'configs/blendmask/blendmask_m{info["attn_size"]}_'
            f'r{info["depth"]}_{{1x,3x}}_coco.py')


def check_config(config: str, state_dict: Mapping) -> None:
    """Build ``config``'s model and load ``state_dict`` strictly."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmb2inst  # noqa: F401
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [
        f'{k}: {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}'
        for k in own if k in state_dict and own[k].shape != state_dict[k].shape
    ]
    problems = []
    if missing:
        problems.append(f'missing in the checkpoint: {", ".join(missing)}')
    if unexpected:
        problems.append(f'not in the model: {", ".join(unexpected)}')
    if shapes:
        problems.append(f'shape mismatches: {"; ".join(shapes)}')
    if problems:
        raise ConversionError(f'{config} does not match the converted '
                              'weights: ' + ' | '.join(problems))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='AdelaiDet BlendMask checkpoint -> mmb2inst checkpoint')
    parser.add_argument('src', help='AdelaiDet .pth (Detectron2 format)')
    parser.add_argument('dst', help='mmengine checkpoint to write')
    parser.add_argument(
        '--force', action='store_true', help='overwrite an existing dst')
    parser.add_argument(
        '--check-config',
        metavar='CONFIG',
        help='load the result strictly into this config\'s model first')
    parser.add_argument(
        '--verbose', action='store_true', help='print every mapped key')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if osp.exists(args.dst) and not args.force:
            raise ConversionError(
                f'{args.dst} exists; pass --force to overwrite it')
        if not osp.isfile(args.src):
            raise ConversionError(f'{args.src}: no such file')
        conv = convert(read_checkpoint(args.src))
        if args.check_config:
            check_config(args.check_config, conv.state_dict)
    except ConversionError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    out_dir = osp.dirname(osp.abspath(args.dst))
    if not osp.isdir(out_dir):
        print(f'error: {out_dir}: no such directory', file=sys.stderr)
        return 1
    torch.save(to_mmengine(conv, args.src), args.dst)
    info = conv.info
    print(f'{args.src}: BlendMask R-{info["depth"]}, {info["num_classes"]} '
          f'classes, K = {info["num_bases"]} bases, M = {info["attn_size"]}')
    print(f'mapped {len(conv.mapped)} tensors, added {len(conv.added)}, '
          f'dropped {len(conv.dropped)}')
    if args.verbose:
        for src, dst in conv.mapped:
            print(f'  {src} -> {dst}')
    for dst, why in conv.added:
        if args.verbose or 'num_batches_tracked' not in dst:
            print(f'  added {dst}: {why}')
    for src, why in conv.dropped:
        print(f'  dropped {src}: {why}')
    print(f'wrote {args.dst}; config: {suggested_config(info)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
