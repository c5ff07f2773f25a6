"""Inference time of mmb2inst's BlendMask beside AdelaiDet's, same weights.

    python tools/model_converters/adelaidet_speed.py
        --adelaidet DIR --detectron2 DIR [--size 800x1088] [--threads 2]
        [--rounds 5] [--depth 50] [--json FILE]

Both models are built as in ``adelaidet_parity.py`` (AdelaiDet's R_50_1x
from the fetched sources; mmb2inst's
``configs/blendmask/blendmask_m14_r50_1x_coco.py`` with the converted
weights of the same seeded checkpoint), run on CPU with ``--threads``
threads on one image of ``--size`` (batch 1, ``torch.no_grad``), one
warm-up each, then ``--rounds`` alternating timed runs (AdelaiDet, mmb2inst,
AdelaiDet, ...) so that both see the same machine load. Reported: the
median seconds per image of each, their ratio (mmb2inst / AdelaiDet; below
1 is faster), the median of the per-round ratios, the ratio of the CPU
times (this process, both threads: less sensitive than wall time to other
processes' load) and, per model, the time up to the FPN output (backbone +
FPN), the heads, and the rest (selection, NMS, blender, paste). Then the
same stages timed on their own, the two models alternating stage by stage
(less exposed to load changes than whole runs), and their sum.
AdelaiDet's RoIAlign and NMS are mmcv's compiled kernels here (torchvision's
do not load on this CPU build of PyTorch), as mmb2inst's are.
"""
import argparse
import importlib.util
import json
import os.path as osp
import statistics
import sys
import time

import torch

HERE = osp.dirname(osp.abspath(__file__))


def load_parity():
    if 'adelaidet_parity' not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            'adelaidet_parity', osp.join(HERE, 'adelaidet_parity.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules['adelaidet_parity'] = module
        spec.loader.exec_module(module)
    return sys.modules['adelaidet_parity']


class Stamps:
    """Times at which given modules finish their forward."""

    def __init__(self, modules):
        self.times = {}
        self.handles = [
            m.register_forward_hook(self._hook(name))
            for name, m in modules.items()
        ]

    def _hook(self, name):

        def hook(module, args, output):
            self.times[name] = time.perf_counter()

        return hook


def _timed_run(run, modules: dict, heads_end: str) -> dict:
    """Seconds of ``run()`` (wall and CPU) and of its parts, from stamps at
    the end of each module of ``modules`` (``fpn`` and ``heads_end``
    included): up to the FPN output, the heads (up to ``heads_end``), and
    the rest."""
    stamps = Stamps(modules)
    cpu = time.process_time()
    start = time.perf_counter()
    run()
    end = time.perf_counter()
    cpu = time.process_time() - cpu
    for handle in stamps.handles:
        handle.remove()
    t = stamps.times
    return dict(
        total=end - start,
        cpu=cpu,
        fpn=t['fpn'] - start,
        heads=t[heads_end] - t['fpn'],
        rest=end - t[heads_end])


@torch.no_grad()
def time_adelaidet(model, image):
    h, w = image.shape[:2]

    def run():
        model([
            dict(
                image=torch.from_numpy(image).permute(2, 0, 1).float(),
                height=h,
                width=w)
        ])

    # AdelaiDet runs the basis module before FCOS
    return _timed_run(
        run,
        dict(
            fpn=model.backbone,
            heads=model.proposal_generator.fcos_head,
            basis=model.basis_module), 'heads')


@torch.no_grad()
def time_mmb2inst(model, image):
    from mmdet.structures import DetDataSample
    h, w = image.shape[:2]
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(h, w), ori_shape=(h, w), scale_factor=(1., 1.)))

    def run():
        data = model.data_preprocessor(
            dict(
                inputs=[torch.from_numpy(image).permute(2, 0, 1).contiguous()],
                data_samples=[sample]), False)
        model.predict(data['inputs'], data['data_samples'], rescale=True)

    # mmdet runs the detection head (and its selection) before the basis
    # module; 'heads' here is both heads' forward and FCOS's selection
    return _timed_run(run,
                      dict(fpn=model.neck, basis=model.mask_head.basis_head),
                      'basis')


@torch.no_grad()
def stage_times(upstream, ours, image, rounds):
    """Median seconds of each stage, the two models alternating stage by
    stage (a load change between two runs of a stage is less likely than
    between two whole runs): ``{stage: {'adelaidet': s, 'mmb2inst': s}}``
    for backbone+FPN, the FCOS head with the attention layer, the basis
    module and the post-processing (selection, NMS, blender, paste)."""
    # by name: the upstream sources are no dependency of mmb2inst
    detector_postprocess = importlib.import_module(
        'detectron2.modeling.postprocessing').detector_postprocess
    ImageList = importlib.import_module('detectron2.structures').ImageList
    from mmdet.structures import DetDataSample
    h, w = image.shape[:2]
    tensor = torch.from_numpy(image).permute(2, 0, 1)
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(h, w), ori_shape=(h, w), scale_factor=(1., 1.)))
    data = ours.data_preprocessor(
        dict(inputs=[tensor.contiguous()], data_samples=[sample]), False)
    metas = [s.metainfo for s in data['data_samples']]
    images = ImageList.from_tensors([upstream.normalizer(tensor.float())],
                                    upstream.backbone.size_divisibility)
    fcos = upstream.proposal_generator
    times = {}

    def timed(stage, name, fn):
        start = time.perf_counter()
        out = fn()
        times.setdefault(stage,
                         {}).setdefault(name,
                                        []).append(time.perf_counter() - start)
        return out

    for _ in range(rounds + 1):  # the first round warms up
        feats = timed('backbone+FPN', 'adelaidet',
                      lambda: upstream.backbone(images.tensor))
        x = timed('backbone+FPN', 'mmb2inst',
                  lambda: ours.extract_feat(data['inputs']))
        levels = [feats[f] for f in fcos.in_features]
        head = timed('FCOS+attention', 'adelaidet',
                     lambda: fcos.fcos_head(levels, upstream.top_layer))
        outs = timed('FCOS+attention', 'mmb2inst', lambda: ours.bbox_head(x))
        bases = timed('basis', 'adelaidet',
                      lambda: upstream.basis_module(feats, None))[0]
        basis = timed('basis', 'mmb2inst', lambda: ours.mask_head(x))

        def adelaidet_post():
            props = fcos.fcos_outputs.predict_proposals(
                *head[:3], fcos.compute_locations(levels), images.image_sizes,
                head[3])
            result = upstream.blender(bases['bases'], props, None)[0][0]
            return detector_postprocess(result, h, w)

        def mmb2inst_post():
            dets = ours.bbox_head.predict_by_feat(
                *outs, batch_img_metas=metas, rescale=False)
            return ours.mask_head.predict_by_feat(
                *basis,
                feats=x,
                results_list=dets,
                batch_img_metas=metas,
                rescale=True)

        timed('post-processing', 'adelaidet', adelaidet_post)
        timed('post-processing', 'mmb2inst', mmb2inst_post)
    return {
        stage: {
            name: statistics.median(t[1:])
            for name, t in names.items()
        }
        for stage, names in times.items()
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--adelaidet', required=True)
    parser.add_argument('--detectron2', required=True)
    parser.add_argument('--size', default='800x1088')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--depth', type=int, default=50)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', help='write the timings (.json)')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    parity = load_parity()
    parity.import_upstream(
        osp.abspath(args.adelaidet), osp.abspath(args.detectron2), 'mmcv')
    h, w = (int(v) for v in args.size.split('x'))
    state = parity.random_adelaidet_state(args.seed, depth=args.depth)
    image = parity.make_images(args.seed, [(h, w)])[0]
    upstream = parity.build_adelaidet(state, osp.abspath(args.adelaidet),
                                      args.depth)
    ours = parity.build_mmb2inst(state)
    time_adelaidet(upstream, image)  # warm-up
    time_mmb2inst(ours, image)
    runs = dict(adelaidet=[], mmb2inst=[])
    for _ in range(args.rounds):
        runs['adelaidet'].append(time_adelaidet(upstream, image))
        runs['mmb2inst'].append(time_mmb2inst(ours, image))
    median = {
        name: {
            part: statistics.median(r[part] for r in rs)
            for part in ('total', 'cpu', 'fpn', 'heads', 'rest')
        }
        for name, rs in runs.items()
    }
    ratio = median['mmb2inst']['total'] / median['adelaidet']['total']
    # each round's ratio: its two runs saw about the same machine load
    paired = statistics.median(
        b['total'] / a['total']
        for a, b in zip(runs['adelaidet'], runs['mmb2inst']))
    # CPU time of this process: less sensitive to other processes' load
    cpu_ratio = median['mmb2inst']['cpu'] / median['adelaidet']['cpu']
    print(f'BlendMask R-{args.depth}, {h}x{w}, CPU, {args.threads} threads, '
          f'{args.rounds} alternating rounds (median s/img):')
    for name, m in median.items():
        print(f'  {name:9s} total {m["total"]:.3f} (CPU {m["cpu"]:.3f})  '
              f'backbone+FPN {m["fpn"]:.3f}  heads {m["heads"]:.3f}  rest '
              f'{m["rest"]:.3f}')
    print(f'  ratio mmb2inst / AdelaiDet: {ratio:.3f} (of the medians), '
          f'{paired:.3f} (median of the rounds\' ratios), {cpu_ratio:.3f} '
          '(CPU time)')
    stages = stage_times(upstream, ours, image, args.rounds)
    print('stage by stage, alternating (median s/img):')
    for stage, t in stages.items():
        print(f'  {stage:16s} AdelaiDet {t["adelaidet"]:.3f}  mmb2inst '
              f'{t["mmb2inst"]:.3f}  ratio '
              f'{t["mmb2inst"] / t["adelaidet"]:.3f}')
    summed = {
        name: sum(t[name] for t in stages.values())
        for name in ('adelaidet', 'mmb2inst')
    }
    print(f'  {"sum":16s} AdelaiDet {summed["adelaidet"]:.3f}  mmb2inst '
          f'{summed["mmb2inst"]:.3f}  ratio '
          f'{summed["mmb2inst"] / summed["adelaidet"]:.3f}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(
                dict(
                    size=[h, w],
                    threads=args.threads,
                    median=median,
                    ratio=ratio,
                    paired_ratio=paired,
                    cpu_ratio=cpu_ratio,
                    stages=stages,
                    runs=runs),
                f,
                indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
