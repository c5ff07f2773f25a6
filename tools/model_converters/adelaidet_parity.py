"""Whole-model parity of mmb2inst's BlendMask with AdelaiDet's BlendMask.

    python tools/model_converters/adelaidet_parity.py
        --adelaidet DIR --detectron2 DIR [--depth 50] [--seed 0]
        [--sizes 128x160,100x150:150x225,160x96] [--threads 2]
        [--record tests/data/adelaidet_blendmask_parity.npz] [--json FILE]

Both models get the same weights: seeded random tensors in AdelaiDet's key
layout (:func:`random_adelaidet_state`: Gaussian convolutions, BN
statistics near the activations' own, FCOS biases that let detections pass
the 0.05 threshold), loaded strictly into AdelaiDet's ``R_50_1x`` model
(``configs/BlendMask/R_50_1x.yaml``, ``MODEL.RESNETS.DEPTH`` from
``--depth``) and converted by ``adelaidet_blendmask.py`` into
``configs/blendmask/blendmask_m14_r50_1x_coco.py``. Both run on the same
images (seeded, BGR; sizes that are not multiples of 32 are padded by
both; ``HxW:OHxOW`` asks for the results at another size, as a resized
test image's are) and are compared stage by stage: P3-P7, the FCOS class /
box / centerness maps (AdelaiDet's box map times the stride, as mmdet
scales at the head), the attention maps, the bases, then the detections:
boxes, scores, labels, the attentions and 56 x 56 mask probabilities of
each, and the pasted binary masks. The largest absolute difference of each
is printed (``--json`` writes them).

The upstream sources are imported from the given trees, not installed: a
stub stands in for AdelaiDet's C++ extension (``adet._C``, used by text
heads only) and, where torchvision's compiled ops are unavailable, a small
pure-PyTorch ``torchvision.ops`` (RoIAlign, NMS) written here, independent
of the mmcv kernels mmb2inst uses. Their pure-Python dependencies (fvcore,
iopath, yacs, omegaconf, ...) must be importable.

``--record FILE`` stores AdelaiDet's outputs (the detections in full, every
other tensor as a fixed sample of its values and its sums): the suite's
``tests/model_converters/test_adelaidet_parity.py`` regenerates the weights
from the seed, converts them and compares mmb2inst's outputs with the
record, without AdelaiDet or Detectron2.
"""
import argparse
import importlib.util
import json
import math
import os
import os.path as osp
import sys
import time
import types
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
CONFIG = osp.join(ROOT, 'configs/blendmask/blendmask_m14_r50_1x_coco.py')
STRIDES = (8, 16, 32, 64, 128)
LEVELS = ('p3', 'p4', 'p5', 'p6', 'p7')
SAMPLES = 512  # values kept per recorded tensor


def load_converter():
    """tools/model_converters/adelaidet_blendmask.py as a module."""
    if 'adelaidet_blendmask' in sys.modules:
        return sys.modules['adelaidet_blendmask']
    spec = importlib.util.spec_from_file_location(
        'adelaidet_blendmask', osp.join(HERE, 'adelaidet_blendmask.py'))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# Weights in AdelaiDet's layout
def adelaidet_shapes(depth=50,
                     num_classes=80,
                     num_bases=4,
                     attn_size=14,
                     basis_convs=3,
                     channels=256,
                     basis_channels=128):
    """``key -> (shape, kind)`` of AdelaiDet's BlendMask (R-``depth`` FPN,
    ``Base-BlendMask.yaml``), in the order its modules register them.

    ``kind`` says how :func:`random_adelaidet_state` fills the tensor:
    ``conv`` (followed by a norm and ReLU), ``stem``, ``res_bn`` /
    ``last_bn`` (frozen BN inside / at the end of a residual branch),
    ``bn``, ``gn``, ``lin`` (a plain conv) or a head name.
    """
    shapes = OrderedDict()

    def conv(key, cout, cin, k, kind='conv', bias=False):
        shapes[f'{key}.weight'] = ((cout, cin, k, k), kind)
        if bias:
            shapes[f'{key}.bias'] = ((cout, ), 'bias')

    def norm(key, c, kind, tracked=False):
        for name in ('weight', 'bias', 'running_mean', 'running_var'):
            shapes[f'{key}.{name}'] = ((c, ), f'{kind}.{name}')
        if tracked:
            shapes[f'{key}.num_batches_tracked'] = ((), 'count')

    blocks = {
        18: (2, 2, 2, 2),
        34: (3, 4, 6, 3),
        50: (3, 4, 6, 3),
        101: (3, 4, 23, 3)
    }[depth]
    bottleneck = depth >= 50
    bu = 'backbone.bottom_up'
    conv(f'{bu}.stem.conv1', 64, 3, 7, 'stem')
    norm(f'{bu}.stem.conv1.norm', 64, 'bn')
    cin, cout, mid = 64, 256 if bottleneck else 64, 64
    stage_out = []
    for stage, num in zip(range(2, 6), blocks):
        for b in range(num):
            key = f'{bu}.res{stage}.{b}'
            if b == 0 and cin != cout:
                conv(f'{key}.shortcut', cout, cin, 1, 'lin')
                norm(f'{key}.shortcut.norm', cout, 'last_bn')
            if bottleneck:
                convs = [(mid, cin, 1), (mid, mid, 3), (cout, mid, 1)]
            else:
                convs = [(cout, cin, 3), (cout, cout, 3)]
            for k, (o, i, ks) in enumerate(convs, 1):
                last = k == len(convs)
                conv(f'{key}.conv{k}', o, i, ks, 'lin' if last else 'conv')
                norm(f'{key}.conv{k}.norm', o, 'last_bn' if last else 'bn')
            cin = cout
        stage_out.append(cout)
        cout, mid = cout * 2, mid * 2
    for level, c in zip((3, 4, 5), stage_out[1:]):
        conv(f'backbone.fpn_lateral{level}', channels, c, 1, 'lin', True)
        conv(f'backbone.fpn_output{level}', channels, channels, 3, 'lin', True)
    for level in (6, 7):
        conv(f'backbone.top_block.p{level}', channels, channels, 3, 'lin',
             True)
    fcos = 'proposal_generator.fcos_head'
    for tower in ('cls_tower', 'bbox_tower'):
        for i in range(4):
            conv(f'{fcos}.{tower}.{3 * i}', channels, channels, 3, 'conv',
                 True)
            shapes[f'{fcos}.{tower}.{3 * i + 1}.weight'] = ((channels, ),
                                                            'gn.weight')
            shapes[f'{fcos}.{tower}.{3 * i + 1}.bias'] = ((channels, ),
                                                          'gn.bias')
    for name, c in (('cls_logits', num_classes), ('bbox_pred', 4), ('ctrness',
                                                                    1)):
        conv(f'{fcos}.{name}', c, channels, 3, name, True)
    conv('top_layer', num_bases * attn_size**2, channels, 3, 'top_layer', True)
    basis = 'basis_module'
    for i in range(3):
        conv(f'{basis}.refine.{i}.0', basis_channels, channels, 3)
        norm(f'{basis}.refine.{i}.1', basis_channels, 'bn', True)
    for i in list(range(basis_convs)) + [basis_convs + 1]:
        conv(f'{basis}.tower.{i}.0', basis_channels, basis_channels, 3)
        norm(f'{basis}.tower.{i}.1', basis_channels, 'bn', True)
    conv(f'{basis}.tower.{basis_convs + 2}', num_bases, basis_channels, 1,
         'bases', True)
    conv(f'{basis}.seg_head.0', basis_channels, channels, 3)
    norm(f'{basis}.seg_head.1', basis_channels, 'bn', True)
    conv(f'{basis}.seg_head.3', basis_channels, basis_channels, 3)
    norm(f'{basis}.seg_head.4', basis_channels, 'bn', True)
    conv(f'{basis}.seg_head.6', num_classes + 1, basis_channels, 1, 'lin',
         True)
    return shapes


def random_adelaidet_state(seed=0, **kwargs):
    """Seeded random weights in AdelaiDet's BlendMask layout
    (:func:`adelaidet_shapes`), the same on every machine.

    Scales keep activations O(1) through the network (inputs are BGR minus
    the mean, std 1, so the stem divides by ~60); frozen BN statistics are
    of the activations' scale (means ~N(0, 0.3), variances 0.5-2); the last
    BN of a residual branch is small, as in trained ResNets; bases of
    magnitude ~5, so that masks are mostly confident (pixels at probability
    ~0.5 flip with any rounding of the paste); class biases -4.25 +- 0.5 and
    box biases of 2-5 strides give tens of detections above AdelaiDet's 0.05
    threshold on class x centerness.
    """
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=gen)

    def rand(*shape, lo=0., hi=1.):
        return lo + (hi - lo) * torch.rand(*shape, generator=gen)

    state = OrderedDict()
    for key, (shape, kind) in adelaidet_shapes(**kwargs).items():
        if len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            gain = {
                'conv': math.sqrt(2.),
                'stem': math.sqrt(2.) / 60.,
                'lin': 1.,
                'cls_logits': 1.,
                'bbox_pred': 0.5,
                'ctrness': 1.,
                'top_layer': 1.,
                'bases': 8.
            }[kind]
            value = randn(*shape) * gain / math.sqrt(fan_in)
        elif kind == 'bias':
            value = randn(*shape) * 0.05
            if 'cls_logits' in key:
                value = value * 10 - 4.25
            elif 'bbox_pred' in key:
                value = rand(*shape, lo=2., hi=5.)
        elif kind == 'count':
            value = torch.tensor(1000, dtype=torch.long)
        else:
            norm, name = kind.split('.')
            if name == 'weight':
                value = rand(*shape, lo=0.1, hi=0.3) if norm == 'last_bn' \
                    else rand(*shape, lo=0.5, hi=1.5)
            elif name == 'bias':
                value = randn(*shape) * 0.1
            elif name == 'running_mean':
                value = randn(*shape) * 0.3
            else:
                value = rand(*shape, lo=0.5, hi=2.)
        state[key] = value.contiguous()
    return state


def make_images(seed, sizes):
    """Seeded BGR ``uint8`` images ``(H, W, 3)``: smooth colour fields with
    a few flat rectangles, so that features vary over the image."""
    gen = torch.Generator().manual_seed(seed + 1)
    images = []
    for h, w in sizes:
        low = torch.rand(1, 3, max(h // 16, 2), max(w // 16, 2), generator=gen)
        img = F.interpolate(
            low, (h, w), mode='bilinear', align_corners=False)[0] * 255
        for _ in range(4):
            y0 = int(torch.randint(0, h - 8, (1, ), generator=gen))
            x0 = int(torch.randint(0, w - 8, (1, ), generator=gen))
            y1 = min(
                h,
                y0 + int(torch.randint(8, h // 2 + 9, (1, ), generator=gen)))
            x1 = min(
                w,
                x0 + int(torch.randint(8, w // 2 + 9, (1, ), generator=gen)))
            img[:, y0:y1, x0:x1] = torch.rand(3, 1, 1, generator=gen) * 255
        images.append(img.round().clamp(0, 255).byte().permute(1, 2,
                                                               0).numpy())
    return images


# mmb2inst
def build_mmb2inst(state, config=CONFIG):
    """mmb2inst's BlendMask of ``config`` with the converted ``state``."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmb2inst  # noqa: F401
    conv = load_converter().convert(state)
    cfg = Config.fromfile(config)
    init_default_scope('mmdet')
    cfg.model.backbone.init_cfg = None
    cfg.model.backbone.depth = conv.info['depth']
    if conv.info['depth'] < 50:
        cfg.model.neck.in_channels = [64, 128, 256, 512]
    model = MODELS.build(cfg.model)
    missing, unexpected = model.load_state_dict(conv.state_dict, strict=True)
    return model.eval()


@torch.no_grad()
def run_mmb2inst(model, images, out_sizes=None):
    """Stage outputs of mmb2inst's model on each image (batch of one),
    results at ``out_sizes`` (default: the images')."""
    from mmdet.structures import DetDataSample
    outs = []
    for img, out_size in zip(images, out_sizes or [None] * len(images)):
        h, w = img.shape[:2]
        oh, ow = out_size or (h, w)
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(h, w),
                ori_shape=(oh, ow),
                scale_factor=(w / ow, h / oh)))
        data = model.data_preprocessor(
            dict(
                inputs=[torch.from_numpy(img).permute(2, 0, 1).contiguous()],
                data_samples=[sample]), False)
        inputs, samples = data['inputs'], data['data_samples']
        feats = model.extract_feat(inputs)
        cls, reg, ctr, attn = model.bbox_head(feats)
        bases = model.mask_head(feats)[0]
        metas = [s.metainfo for s in samples]
        dets = model.bbox_head.predict_by_feat(
            cls, reg, ctr, attn, batch_img_metas=metas, rescale=False)
        probs = model.mask_head.instance_probs(
            bases,
            torch.cat(
                [dets[0].bboxes.new_zeros((len(dets[0]), 1)), dets[0].bboxes],
                1), dets[0].param_preds)
        final = model.mask_head.predict_by_feat(
            *model.mask_head(feats),
            feats=feats,
            results_list=dets,
            batch_img_metas=metas,
            rescale=True)[0]
        out = OrderedDict()
        for name, f in zip(LEVELS, feats):
            out[name] = f[0]
        for name, maps in (('cls', cls), ('reg', reg), ('ctr', ctr), ('attn',
                                                                      attn)):
            for level, m in zip(LEVELS, maps):
                out[f'{name}_{level}'] = m[0]
        out['bases'] = bases[0]
        out['det_boxes'] = final.bboxes
        out['det_scores'] = final.scores
        out['det_labels'] = final.labels
        out['det_masks'] = final.masks
        out['det_attn'] = dets[0].param_preds
        out['det_boxes_unclipped'] = dets[0].bboxes
        out['det_probs'] = probs
        outs.append(out)
    return outs


# AdelaiDet
def torchvision_stand_in(kernels='python'):
    """A ``torchvision`` with the ``ops`` Detectron2 imports: ``roi_align``
    (Detectron2's ROIAlignV2 semantics), ``nms``, ``batched_nms``. Used only
    when torchvision's own ops do not load. ``kernels='python'``: written
    here in PyTorch, independent of the mmcv kernels mmb2inst uses (for the
    parity); ``'mmcv'``: mmcv's compiled kernels (for timing, where the
    Python RoIAlign loop would slow AdelaiDet down)."""
    tv = types.ModuleType('torchvision')
    tv.__version__ = '0.99.0'
    ops = types.ModuleType('torchvision.ops')
    boxes_mod = types.ModuleType('torchvision.ops.boxes')

    def box_iou(a, b):
        area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
        area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        lt = torch.max(a[:, None, :2], b[None, :, :2])
        rb = torch.min(a[:, None, 2:], b[None, :, 2:])
        wh = (rb - lt).clamp(min=0)
        inter = wh[..., 0] * wh[..., 1]
        return inter / (area_a[:, None] + area_b[None] - inter)

    def nms(boxes, scores, iou_threshold):
        order = scores.argsort(descending=True, stable=True)
        iou = box_iou(boxes[order], boxes[order]).numpy()
        suppressed = np.zeros(len(order), bool)
        keep = []
        for i in range(len(order)):
            if suppressed[i]:
                continue
            keep.append(i)
            suppressed |= iou[i] > iou_threshold
        return order[torch.as_tensor(keep, dtype=torch.long)]

    def batched_nms(boxes, scores, idxs, iou_threshold):
        keep = []
        for c in torch.unique(idxs):
            inds = torch.nonzero(idxs == c).flatten()
            keep.append(inds[nms(boxes[inds], scores[inds], iou_threshold)])
        if not keep:
            return torch.zeros(0, dtype=torch.long)
        keep = torch.cat(keep)
        return keep[scores[keep].argsort(descending=True, stable=True)]

    def roi_align(feats,
                  rois,
                  output_size,
                  spatial_scale=1.,
                  sampling_ratio=-1,
                  aligned=False):
        if sampling_ratio <= 0:
            raise NotImplementedError('stand-in roi_align: sampling_ratio>0')
        ph, pw = (output_size, ) * 2 if isinstance(output_size,
                                                   int) else output_size
        s = sampling_ratio
        height, width = feats.shape[-2:]
        out = feats.new_zeros((rois.shape[0], feats.shape[1], ph, pw))
        offset = 0.5 if aligned else 0.

        def axis(start, end, bins, size):
            length = end - start
            if not aligned:
                length = max(length, 1.)
            step = length / bins
            pos = start + (torch.arange(bins * s, dtype=feats.dtype) +
                           0.5) * step / s
            valid = (pos >= -1.) & (pos <= size)
            pos = pos.clamp(min=0)
            low = pos.floor().long().clamp(max=size - 1)
            high = (low + 1).clamp(max=size - 1)
            pos = torch.where(low >= size - 1, low.to(pos.dtype), pos)
            frac = pos - low
            return low, high, (1 - frac) * valid, frac * valid

        for n, roi in enumerate(rois.tolist()):
            b = int(roi[0])
            x1, y1, x2, y2 = [v * spatial_scale - offset for v in roi[1:]]
            yl, yh, wyl, wyh = axis(y1, y2, ph, height)
            xl, xh, wxl, wxh = axis(x1, x2, pw, width)
            f = feats[b]
            rows = f[:, yl] * wyl[:, None] + f[:, yh] * wyh[:, None]
            vals = rows[:, :, xl] * wxl + rows[:, :, xh] * wxh
            out[n] = vals.reshape(-1, ph, s, pw, s).mean((2, 4))
        return out

    class RoIPool(torch.nn.Module):

        def __init__(self, *args, **kwargs):
            raise NotImplementedError('stand-in torchvision: no RoIPool')

    def deform_conv2d(*args, **kwargs):
        raise NotImplementedError('stand-in torchvision: no deform_conv2d')

    impl = dict(nms=nms, batched_nms=batched_nms, roi_align=roi_align)
    if kernels == 'mmcv':
        from mmcv import ops as mmcv_ops
        impl = dict(
            nms=_mmcv_nms(mmcv_ops),
            batched_nms=_mmcv_batched_nms(mmcv_ops),
            roi_align=_mmcv_roi_align(mmcv_ops))
    boxes_mod.batched_nms = impl['batched_nms']
    boxes_mod.nms = impl['nms']
    boxes_mod.box_iou = box_iou
    impl.update(
        RoIPool=RoIPool,
        deform_conv2d=deform_conv2d,
        box_iou=box_iou,
        boxes=boxes_mod)
    for name, fn in impl.items():
        setattr(ops, name, fn)
    tv.ops = ops
    return {
        'torchvision': tv,
        'torchvision.ops': ops,
        'torchvision.ops.boxes': boxes_mod
    }


def _mmcv_nms(ops):
    return lambda boxes, scores, iou: ops.nms(boxes, scores, iou)[1]


def _mmcv_batched_nms(ops):
    return lambda boxes, scores, idxs, iou: ops.batched_nms(
        boxes, scores, idxs, dict(iou_threshold=iou))[1]


def _mmcv_roi_align(ops):

    def roi_align(feats,
                  rois,
                  output_size,
                  spatial_scale=1.,
                  sampling_ratio=-1,
                  aligned=False):
        return ops.roi_align(feats, rois, output_size, spatial_scale,
                             sampling_ratio, 'avg', aligned)

    return roi_align


def import_upstream(adelaidet_dir, detectron2_dir, kernels='python'):
    """Put the fetched trees first on ``sys.path`` and import them
    (``kernels``: of the torchvision stand-in, see
    :func:`torchvision_stand_in`)."""
    for path in (detectron2_dir, adelaidet_dir):
        if not osp.isdir(
                osp.join(path,
                         'detectron2' if path == detectron2_dir else 'adet')):
            raise SystemExit(
                f'error: {path} is not a source tree of '
                f'{"detectron2" if path == detectron2_dir else "AdelaiDet"}')
        sys.path.insert(0, path)
    try:
        ops = importlib.import_module('torchvision.ops')
        ops.nms(torch.zeros(1, 4), torch.zeros(1), 0.5)
    except Exception:
        for name in [m for m in sys.modules if m.startswith('torchvision')]:
            del sys.modules[name]
        sys.modules.update(torchvision_stand_in(kernels))
    sys.modules['adet._C'] = types.ModuleType('adet._C')
    # by name: the upstream sources are no dependency of mmb2inst
    importlib.import_module('adet')
    importlib.import_module('detectron2')


def build_adelaidet(state, adelaidet_dir, depth=50):
    """AdelaiDet's BlendMask R_50_1x (``--depth``) on CPU, ``state`` loaded
    strictly."""
    get_cfg = importlib.import_module('adet.config').get_cfg
    build_model = importlib.import_module('detectron2.modeling').build_model
    cfg = get_cfg()
    cfg.merge_from_file(
        osp.join(adelaidet_dir, 'configs/BlendMask/R_50_1x.yaml'))
    cfg.MODEL.DEVICE = 'cpu'
    cfg.MODEL.WEIGHTS = ''
    cfg.MODEL.RESNETS.DEPTH = depth
    if depth < 50:
        cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    model = build_model(cfg)
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return model.eval()


@torch.no_grad()
def run_adelaidet(model, images, out_sizes=None):
    """Stage outputs of AdelaiDet's model on each image (batch of one),
    results at ``out_sizes`` (default: the images')."""
    outs = []
    for img, out_size in zip(images, out_sizes or [None] * len(images)):
        h, w = out_size or img.shape[:2]
        captured = {}
        hooks = [
            model.backbone.register_forward_hook(
                lambda m, i, o: captured.__setitem__('feats', o)),
            model.proposal_generator.fcos_head.register_forward_hook(
                lambda m, i, o: captured.__setitem__('head', o)),
            model.basis_module.register_forward_hook(
                lambda m, i, o: captured.__setitem__('basis', o)),
        ]
        blender = model.blender

        def spy(bases, proposals, gt_instances):
            result = blender(bases, proposals, gt_instances)
            # Detectron2's post-processing clips the boxes in place
            captured['proposals'] = [
                dict(
                    boxes=p.pred_boxes.tensor.clone(),
                    attn=p.top_feat.clone(),
                    probs=p.pred_masks[:, 0].clone()) for p in result[0]
            ]
            return result

        model.blender = spy
        try:
            result = model([
                dict(
                    image=torch.from_numpy(img).permute(2, 0, 1).float(),
                    height=h,
                    width=w)
            ])[0]['instances']
        finally:
            model.blender = blender
            for hook in hooks:
                hook.remove()
        logits, reg, ctr, top, _ = captured['head']
        props = captured['proposals'][0]
        out = OrderedDict()
        for name in LEVELS:
            out[name] = captured['feats'][name][0]
        for level, name in enumerate(LEVELS):
            out[f'cls_{name}'] = logits[level][0]
            out[f'reg_{name}'] = reg[level][0] * STRIDES[level]
            out[f'ctr_{name}'] = ctr[level][0]
            out[f'attn_{name}'] = top[level][0]
        out['bases'] = captured['basis'][0]['bases'][0][0]
        out['det_boxes'] = result.pred_boxes.tensor
        out['det_scores'] = result.scores
        out['det_labels'] = result.pred_classes
        out['det_masks'] = result.pred_masks
        out['det_attn'] = props['attn']
        out['det_boxes_unclipped'] = props['boxes']
        out['det_probs'] = props['probs']
        outs.append(out)
    return outs


# Comparison and record
DET_KEYS = ('det_boxes', 'det_scores', 'det_labels', 'det_masks')


def compare(ref, out):
    """Per image and tensor: the largest absolute difference (mask pixels
    that differ for ``det_masks``), or a string when shapes differ."""
    report = []
    for r, o in zip(ref, out):
        diffs = OrderedDict()
        for key, a in r.items():
            b = o[key]
            if tuple(a.shape) != tuple(b.shape):
                diffs[key] = f'shape {tuple(a.shape)} vs {tuple(b.shape)}'
            elif a.numel() == 0:
                diffs[key] = 0.
            elif a.dtype == torch.bool:
                diffs[key] = int((a != b).sum())
            else:
                diffs[key] = float((a.double() - b.double()).abs().max())
        report.append(diffs)
    return report


def _sample_index(numel, seed=0):
    gen = torch.Generator().manual_seed(seed + numel)
    if numel <= SAMPLES:
        return torch.arange(numel)
    return torch.randperm(numel, generator=gen)[:SAMPLES].sort()[0]


def fingerprint(t):
    """A tensor as ``(sample of values, [sum, sum of |x|, sum of x^2])``:
    what the record keeps of the large maps."""
    flat = t.double().flatten()
    stats = torch.stack([flat.sum(), flat.abs().sum(), (flat**2).sum()])
    return flat[_sample_index(flat.numel())].float().numpy(), stats.numpy()


def record(path, outs, seed, depth, sizes):
    """Write AdelaiDet's outputs: detections in full (masks bit-packed),
    other tensors as :func:`fingerprint`."""
    arrays = dict(
        seed=np.array(seed), depth=np.array(depth), sizes=np.array(sizes))
    for i, out in enumerate(outs):
        for key, t in out.items():
            name = f'{i}/{key}'
            if key == 'det_masks':
                arrays[name] = np.packbits(t.numpy(), axis=-1)
                arrays[name + '/shape'] = np.array(t.shape)
            elif key in DET_KEYS:
                arrays[name] = t.numpy()
            else:
                arrays[name + '/sample'], arrays[name + '/stats'] = \
                    fingerprint(t)
                arrays[name + '/shape'] = np.array(t.shape)
    np.savez_compressed(path, **arrays)


def compare_with_record(rec, outs):
    """The largest differences of ``outs`` (:func:`run_mmb2inst`) from a
    :func:`record`: per image, ``{key: diff}`` (mask pixels for
    ``det_masks``; for fingerprinted tensors the largest of the sample's
    difference and the sums' relative difference), or a string when shapes
    differ."""
    report = []
    for i, out in enumerate(outs):
        diffs = OrderedDict()
        for key, t in out.items():
            name = f'{i}/{key}'
            if key == 'det_masks':
                shape = tuple(rec[name + '/shape'])
                if shape != tuple(t.shape):
                    diffs[key] = f'shape {shape} vs {tuple(t.shape)}'
                    continue
                ref = np.unpackbits(
                    rec[name], axis=-1, count=shape[-1]).astype(bool)
                diffs[key] = int((ref != t.numpy()).sum())
            elif key in DET_KEYS:
                ref = rec[name]
                if ref.shape != tuple(t.shape):
                    diffs[key] = f'shape {ref.shape} vs {tuple(t.shape)}'
                elif ref.size == 0:
                    diffs[key] = 0.
                else:
                    diffs[key] = float(
                        np.abs(ref.astype(np.float64) -
                               t.double().numpy()).max())
            else:
                shape = tuple(rec[name + '/shape'])
                if shape != tuple(t.shape):
                    diffs[key] = f'shape {shape} vs {tuple(t.shape)}'
                    continue
                sample, stats = fingerprint(t)
                ref_stats = rec[name + '/stats']
                rel = np.abs(stats - ref_stats) / np.maximum(
                    np.abs(ref_stats), 1.)
                diffs[key] = float(
                    max(
                        np.abs(sample - rec[name + '/sample']).max(initial=0.),
                        rel.max()))
        report.append(diffs)
    return report


def summarise(report):
    """``{tensor: largest difference over the images}``."""
    summary = OrderedDict()
    for diffs in report:
        for key, d in diffs.items():
            if isinstance(d, str) or isinstance(summary.get(key), str):
                summary[key] = d if isinstance(d, str) else summary[key]
            else:
                summary[key] = max(summary.get(key, 0.), d)
    return summary


def parse_sizes(text):
    """``'HxW[:OHxOW],...'`` -> ``[(H, W, OH, OW), ...]``."""
    sizes = []
    for item in text.split(','):
        size = [int(v) for part in item.split(':') for v in part.split('x')]
        sizes.append(tuple(size + size[:2] if len(size) == 2 else size))
    return sizes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--adelaidet', required=True, help='AdelaiDet tree')
    parser.add_argument('--detectron2', required=True, help='detectron2 tree')
    parser.add_argument('--depth', type=int, default=50)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--sizes', default='128x160,100x150:150x225,160x96')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--record', help='write AdelaiDet\'s outputs (.npz)')
    parser.add_argument('--json', help='write the differences (.json)')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = parse_sizes(args.sizes)
    import_upstream(osp.abspath(args.adelaidet), osp.abspath(args.detectron2))

    state = random_adelaidet_state(args.seed, depth=args.depth)
    images = make_images(args.seed, [s[:2] for s in sizes])
    out_sizes = [s[2:] for s in sizes]
    t0 = time.perf_counter()
    ref = run_adelaidet(
        build_adelaidet(state, osp.abspath(args.adelaidet), args.depth),
        images, out_sizes)
    t1 = time.perf_counter()
    out = run_mmb2inst(build_mmb2inst(state), images, out_sizes)
    t2 = time.perf_counter()
    report = compare(ref, out)
    summary = summarise(report)
    print(f'R-{args.depth}, seed {args.seed}, images {args.sizes}; '
          f'AdelaiDet {t1 - t0:.1f} s, mmb2inst {t2 - t1:.1f} s')
    print('detections per image (AdelaiDet / mmb2inst): ' +
          ', '.join(f'{len(r["det_scores"])}/{len(o["det_scores"])}'
                    for r, o in zip(ref, out)))
    for key, d in summary.items():
        print(f'  {key:22s} {d}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(
                dict(
                    depth=args.depth,
                    seed=args.seed,
                    sizes=sizes,
                    detections=[len(r['det_scores']) for r in ref],
                    max_abs_diff=summary,
                    per_image=report),
                f,
                indent=1)
    if args.record:
        os.makedirs(osp.dirname(osp.abspath(args.record)), exist_ok=True)
        record(args.record, ref, args.seed, args.depth, sizes)
        print(f'recorded AdelaiDet\'s outputs in {args.record} '
              f'({osp.getsize(args.record) / 1e3:.0f} kB)')
    worst = [
        k for k, d in summary.items() if isinstance(d, str) or (
            k == 'det_masks' and d > 0) or (k != 'det_masks' and d > 1e-4)
    ]
    if worst:
        print('over the 1e-4 goal (or masks differ): ' + ', '.join(worst))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
