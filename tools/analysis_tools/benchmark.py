"""Speed and memory of the models, measured side by side.

    python tools/benchmark.py speed [--host yolact blendmask] [--preset coco]
        [--reps 10] [--train-reps 0] [--threads 2] [--references]
    python tools/benchmark.py memory [--configs C ...] [--iters 200]
        [--batch-size 8] [--quick]
    python tools/benchmark.py profile [--configs C ...] [--iters 5]
        [--batch-size 8] [--threads 1] [--top 6]
    python tools/benchmark.py onnx [--configs C ...] [--reps 20]
        [--threads 2]

``speed``: for each host, the host and its B2Inst variants (HBB only, and
HBB + scorer) are built from their configs with random weights (B2Inst
variants get the host's weights wherever shapes agree, so all make the same
detections), then timed round-robin in one process on the same input
(``model.predict``, batch 1; YOLACT 550x550, BlendMask 800x1088 for the COCO
preset, 128x128 for the toy one). Every model keeps its top candidates
(score threshold 0), so mask assembly, scoring and pasting cost what they
cost on a real image. Reported: GFLOPs (independent of the machine's load),
the median time and the median per-repetition ratio to the host: absolute
times on shared CPUs are noisy, ratios measured in one run are what to
compare. ``--train-reps N`` also times N training steps (batch 2, SGD) and
the holistic boundary targets' share of one. ``--references`` adds mmdet's
CondInst and Mask R-CNN beside BlendMask.

``memory``: each toy model trains in its own process (so that peaks do not
mix) on a small generated toy set through its own pipeline and optimizer;
reported are the peak RSS of a training step and the least-squares trend of
the RSS over the iterations ("stable" when it adds up to at most
max(2%, 16 MB) over the run). Speed runs all models in one process, memory
one per process: two measurements, one tool.

``profile``: a few training steps of each toy config (default: the toy
BlendMask, +HBB and B2Inst-BlendMask; batch 8 of a small generated toy set,
1 thread) under PyTorch's profiler: the operators that take the most self
CPU time, in ms per step and as a share of the step, configs side by side.

``onnx``: each model (default: the four toy hosts, random weights keeping
their top 100 candidates) is exported with ``mmb2inst.deploy`` and its
onnxruntime pipeline (two graphs plus mmdet's post-processing) timed
against ``model.predict`` round-robin on the same preprocessed image, with
the same number of threads: median seconds per image and the median
per-repetition ratio onnxruntime / PyTorch.
"""
import argparse
import json
import math
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

HOSTS = dict(
    yolact=dict(
        coco=[('YOLACT', 'configs/yolact/yolact_r50_1xb8-55e_coco.py'),
              ('B2Inst-YOLACT, HBB',
               'configs/b2inst_yolact/b2inst-yolact_hbb_r50_1xb8-55e_coco.py'),
              ('B2Inst-YOLACT',
               'configs/b2inst_yolact/b2inst-yolact_r50_1xb8-55e_coco.py')],
        toy=[('YOLACT', 'configs/yolact/yolact_r18_1xb8-12e_toy.py'),
             ('B2Inst-YOLACT, HBB',
              'configs/b2inst_yolact/b2inst-yolact_hbb_r18_1xb8-12e_toy.py'),
             ('B2Inst-YOLACT',
              'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py')],
        size=dict(coco=(550, 550), toy=(128, 128))),
    blendmask=dict(
        coco=[('BlendMask', 'configs/blendmask/blendmask_r50_1x_coco.py'),
              ('B2Inst-BlendMask, HBB', 'configs/b2inst_blendmask/'
               'b2inst-blendmask_hbb_r50_1x_coco.py'),
              ('B2Inst-BlendMask',
               'configs/b2inst_blendmask/b2inst-blendmask_r50_1x_coco.py'),
              ('B2Inst-BlendMask, MaskIoUHead-sized scorer',
               'configs/b2inst_blendmask/'
               'b2inst-blendmask_msrcnn-scorer_r50_1x_coco.py')],
        toy=[('BlendMask', 'configs/blendmask/blendmask_r18_1xb8-12e_toy.py'),
             ('B2Inst-BlendMask, HBB', 'configs/b2inst_blendmask/'
              'b2inst-blendmask_hbb_r18_1xb8-12e_toy.py'),
             ('B2Inst-BlendMask', 'configs/b2inst_blendmask/'
              'b2inst-blendmask_r18_1xb8-12e_toy.py')],
        size=dict(coco=(800, 1088), toy=(128, 128))))
REFERENCES = [
    ('CondInst (mmdet)',
     'mmdet::condinst/condinst_r50_fpn_ms-poly-90k_coco_instance.py'),
    ('Mask R-CNN (mmdet)', 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'),
]
MEMORY_CONFIGS = [c for host in HOSTS.values() for _, c in host['toy']]
MEMORY_GENERATOR = dict(num_val=8, img_size=128, seed=5)


# --- speed ---------------------------------------------------------------
def build(path: str):
    """A model of ``path`` with random weights that keeps its top
    candidates whatever their scores."""
    import mmdet
    from mmdet.registry import MODELS
    from mmengine.config import Config
    if path.startswith('mmdet::'):
        path = osp.join(
            osp.dirname(mmdet.__file__), '.mim', 'configs',
            path[len('mmdet::'):])
    model = MODELS.build(Config.fromfile(path).model)
    for owner in (model, getattr(model, 'bbox_head',
                                 None), getattr(model, 'roi_head', None)):
        test_cfg = getattr(owner, 'test_cfg', None)
        for sub in (test_cfg, (test_cfg or {}).get('rcnn')):
            if sub is not None and 'score_thr' in sub:
                sub.score_thr = 0.
    return model.eval()


def speed(args) -> None:
    import torch
    from mmdet.testing import demo_mm_inputs

    from mmb2inst.utils.benchmark import (copy_shared_weights, gflops,
                                          interleaved_times, ratio_table)
    if args.threads:
        torch.set_num_threads(args.threads)
    for host in args.host:
        spec = HOSTS[host]
        h, w = spec['size'][args.preset]
        entries = list(spec[args.preset])
        if args.references and host == 'blendmask' and args.preset == 'coco':
            entries[1:1] = REFERENCES
        torch.manual_seed(0)
        names, models = [], []
        for name, path in entries:
            model = build(path)
            if models and 'B2Inst' in name:
                copied, total = copy_shared_weights(models[0], model)
                print(f'{name}: {copied}/{total} tensors from {names[0]}')
            names.append(name)
            models.append(model)
        torch.manual_seed(1)
        num_classes = models[0].bbox_head.num_classes
        test_data = models[0].data_preprocessor(
            demo_mm_inputs(1, [[3, h, w]], num_classes=num_classes), False)
        inputs = {}

        def predict(model):
            # mmdet's references may preprocess differently
            key = id(model.data_preprocessor)
            if key not in inputs:
                inputs[key] = model.data_preprocessor(
                    demo_mm_inputs(1, [[3, h, w]], num_classes=num_classes),
                    False)
            data = inputs[key] if model is not models[0] else test_data
            with torch.no_grad():
                return model.predict(data['inputs'], data['data_samples'])

        print(f'\n{host}, {args.preset} preset: {h}x{w}, batch 1, '
              f'{torch.get_num_threads()} threads, {args.reps} repetitions')
        flops = [gflops(lambda m=m: predict(m)) for m in models]
        dets = [len(predict(m)[0].pred_instances) for m in models]
        times = interleaved_times([lambda m=m: predict(m) for m in models],
                                  args.reps, args.warmup)
        table = ratio_table(names, times)
        print(f'\n| model | detections | GFLOPs | GFLOPs ratio | s / image '
              f'| time ratio to {names[0]} |')
        print('| --- | --- | --- | --- | --- | --- |')
        for name, flop, det in zip(names, flops, dets):
            sec, ratio = table[name]
            print(f'| {name} | {det} | {flop:.1f} | {flop / flops[0]:.4f} | '
                  f'{sec:.3f} | {ratio:.3f} |')
        if args.train_reps:
            train_speed(models, names, h, w, num_classes, args)


def train_speed(models, names, h, w, num_classes, args) -> None:
    """Training-step times of the host and its B2Inst variants, and the
    holistic boundary targets' share of a step."""
    import torch
    from mmdet.testing import demo_mm_inputs

    from mmb2inst.utils.benchmark import interleaved_times, ratio_table, timed
    keep = [i for i, n in enumerate(names) if 'mmdet' not in n]
    models = [models[i] for i in keep]
    names = [names[i] for i in keep]
    torch.manual_seed(2)
    data = models[0].data_preprocessor(
        demo_mm_inputs(
            2, [[3, h, w]] * 2,
            num_items=[8, 8],
            num_classes=num_classes,
            with_mask=True), True)
    optims = [torch.optim.SGD(m.parameters(), lr=1e-5) for m in models]

    def step(model, optim):
        model.train()
        loss, _ = model.parse_losses(
            model.loss(data['inputs'], data['data_samples']))
        optim.zero_grad()
        loss.backward()
        optim.step()

    times = interleaved_times(
        [lambda m=m, o=o: step(m, o) for m, o in zip(models, optims)],
        args.train_reps, 1)
    table = ratio_table(names, times)
    print('\n| model | train step (batch 2), s | ratio |\n| --- | --- | --- |')
    for name in names:
        print(f'| {name} | {table[name][0]:.3f} | {table[name][1]:.3f} |')
    boundary = getattr(models[-1].mask_head, 'boundary', None)
    if boundary is not None and boundary.supervision == 'global':
        gts = [s.gt_instances for s in data['data_samples']]
        size = (math.ceil(h / 8) * 2, math.ceil(w / 8) * 2)
        t = statistics.median(
            timed(lambda: boundary.get_global_targets(gts, size, 'cpu'))
            for _ in range(args.reps))
        print(f'\nholistic boundary targets of the batch: {1e3 * t:.2f} ms '
              f'= {100 * t / table[names[-1]][0]:.2f}% of a {names[-1]} '
              'training step')


# --- onnx ----------------------------------------------------------------
ONNX_CONFIGS = [
    'configs/yolact/yolact_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py',
    'configs/blendmask/blendmask_r18_1xb8-12e_toy.py',
    'configs/b2inst_blendmask/b2inst-blendmask_r18_1xb8-12e_toy.py',
]


def onnx_speed(args) -> None:
    import copy

    import torch
    from mmdet.testing import demo_mm_inputs

    from mmb2inst.deploy import OnnxDetector, export
    from mmb2inst.utils.benchmark import interleaved_times, ratio_table
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    print(f'onnxruntime vs PyTorch, {threads} threads, {args.reps} '
          'repetitions, batch 1')
    print('\n| model | input | detections | PyTorch s / image | '
          'onnxruntime s / image | time ratio onnxruntime / PyTorch |')
    print('| --- | --- | --- | --- | --- | --- |')
    for config in args.configs:
        model = build(config)
        model.bbox_head.test_cfg.max_per_img = 100
        size = 128 if config.endswith('_toy.py') else 800
        with tempfile.TemporaryDirectory() as out:
            export(model, out, (size, size))
            detector = OnnxDetector(model, out, threads=threads)
            torch.manual_seed(1)
            data = model.data_preprocessor(
                demo_mm_inputs(
                    1, [[3, size, size]],
                    num_classes=model.bbox_head.num_classes), False)

            def pytorch():
                with torch.no_grad():
                    return model.predict(data['inputs'],
                                         copy.deepcopy(data['data_samples']))

            def ort():
                return detector.predict(data['inputs'],
                                        copy.deepcopy(data['data_samples']))

            dets = len(ort()[0].pred_instances)
            times = interleaved_times([pytorch, ort], args.reps, args.warmup)
        table = ratio_table(['pytorch', 'ort'], times)
        name = osp.splitext(osp.basename(config))[0]
        print(f'| {name} | {size}x{size} | {dets} | '
              f'{table["pytorch"][0]:.4f} | {table["ort"][0]:.4f} | '
              f'{table["ort"][1]:.3f} |')


# --- memory --------------------------------------------------------------
def status_mb(key: str) -> float:
    """``VmRSS``, ``VmHWM``, ... of this process, in MB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


def reset_peak() -> bool:
    """Reset this process's RSS high-water mark (Linux >= 4.0)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def measure_memory(config: str, data_root: str, generator: dict, iters: int,
                   batch_size: int) -> dict:
    """Train ``config`` for ``iters`` steps in this process; the numbers."""
    import torch
    loader, model, optim_wrapper = training_setup(config, data_root, generator,
                                                  batch_size)
    marks = sorted({min(10, iters), iters // 2, iters})
    out = dict(
        config=config,
        params=sum(p.numel() for p in model.parameters()),
        before=status_mb('VmRSS'),
        step_peak=0.,
        rss={},
        trace=[],
        peak_per_step=True)
    batches, it, start = iter(loader), 0, time.time()
    while it < iters:
        try:
            data = next(batches)
        except StopIteration:
            batches = iter(loader)
            continue
        out['peak_per_step'] &= reset_peak()
        model.train_step(data, optim_wrapper)
        out['step_peak'] = max(out['step_peak'], status_mb('VmHWM'))
        it += 1
        out['trace'].append(status_mb('VmRSS'))
        if it in marks:
            out['rss'][it] = out['trace'][-1]
    out['sec_per_iter'] = (time.time() - start) / iters
    out['threads'] = torch.get_num_threads()
    return out


def training_setup(config: str, data_root: str, generator: dict,
                   batch_size: int):
    """``config``'s train loader (on the toy set of ``generator`` under
    ``data_root``, in this process), its model (initialised, seed 0, in
    training mode) and its optimizer wrapper."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner import Runner, set_random_seed

    import mmb2inst  # noqa: F401

    register_all_modules(init_default_scope=True)
    set_random_seed(0)
    cfg = Config.fromfile(config)
    loader_cfg = cfg.train_dataloader
    loader_cfg.update(
        batch_size=batch_size, num_workers=0, persistent_workers=False)
    loader_cfg.dataset.update(data_root=data_root + '/', generator=generator)
    loader = Runner.build_dataloader(loader_cfg.to_dict(), seed=0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    return loader, model, build_optim_wrapper(model, cfg.optim_wrapper)


def trend(trace: list, start: int = 10) -> float:
    """Least-squares slope of the RSS after iterations ``start`` ... end
    (``trace[i]``: after iteration ``i + 1``), in MB per 100 iterations."""
    xs = list(range(start, len(trace) + 1))
    ys = trace[start - 1:]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx)**2 for x in xs)
    return 100 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var


def verdict(trace: list, start: int = 10) -> str:
    if len(trace) < start + 10:
        return 'too few iterations'
    slope = trend(trace, start)
    over_run = slope * (len(trace) - start) / 100
    spread = max(trace[start - 1:]) - min(trace[start - 1:])
    kind = 'stable' if over_run <= max(0.02 * trace[start - 1], 16.) \
        else 'grows'
    return f'{kind}: {slope:+.1f} MB/100 it (range {spread:.0f} MB)'


def memory_table(results: list) -> str:
    marks = sorted({int(k) for r in results for k in r.get('rss', {})})
    head = ['config', 'params (M)', 'before (MB)', 'step peak (MB)']
    head += [f'RSS @{m} (MB)' for m in marks]
    head += ['verdict', 's/iter']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + ' --- |' * len(head)]
    for r in results:
        if 'error' in r:
            cells = [osp.basename(r['config']), r['error']]
            cells += [''] * (len(head) - 2)
        else:
            rss = {int(k): v for k, v in r['rss'].items()}
            peak = f'{r["step_peak"]:.0f}' + ('' if r['peak_per_step'] else
                                              ' (process)')
            cells = [
                osp.splitext(osp.basename(r['config']))[0],
                f'{r["params"] / 1e6:.2f}', f'{r["before"]:.0f}', peak
            ]
            cells += [f'{rss[m]:.0f}' for m in marks]
            cells += [verdict(r['trace']), f'{r["sec_per_iter"]:.2f}']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def memory(args) -> int:
    generator = dict(MEMORY_GENERATOR, num_train=max(4 * args.batch_size, 16))
    if args.measure:  # internal: one config in this process
        result = measure_memory(args.measure, args.data_root, generator,
                                args.iters, args.batch_size)
        with open(args.out, 'w') as f:
            json.dump(result, f)
        return 0
    from mmb2inst.datasets import ensure_toy_dataset
    tmp = tempfile.TemporaryDirectory()
    data_root = args.data_root or osp.join(tmp.name, 'toy')
    ensure_toy_dataset(data_root, generator)
    results = []
    for config in args.configs:
        out = osp.join(tmp.name, 'result.json')
        cmd = [
            sys.executable,
            osp.abspath(__file__), 'memory', '--measure', config, '--out', out,
            '--data-root', data_root, '--iters',
            str(args.iters), '--batch-size',
            str(args.batch_size)
        ]
        print(
            f'[memory] {config}: {args.iters} iterations of batch '
            f'{args.batch_size}',
            file=sys.stderr,
            flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not osp.isfile(out):
            tail = proc.stderr.strip().splitlines()[-1:] or [
                f'exit code {proc.returncode}'
            ]
            results.append(dict(config=config, error=f'failed: {tail[0]}'))
            continue
        with open(out) as f:
            results.append(json.load(f))
        os.remove(out)
        if args.json:  # as it goes: a long run keeps what it measured
            with open(args.json, 'w') as f:
                json.dump(results, f, indent=1)
    print(f'Training memory, {args.iters} iterations of batch '
          f'{args.batch_size}, OMP_NUM_THREADS='
          f'{os.environ.get("OMP_NUM_THREADS", "unset")}:\n')
    print(memory_table(results))
    tmp.cleanup()
    return 1 if any('error' in r for r in results) else 0


# --- profile -------------------------------------------------------------
def profile_steps(config: str, data_root: str, generator: dict, iters: int,
                  batch_size: int) -> dict:
    """``iters`` training steps of ``config`` under PyTorch's profiler,
    after one unprofiled step: the wall seconds of a step and the self CPU
    seconds per step of every operator (autograd's backward functions, such
    as ``RoIAlignFunctionBackward``, are operators of their own)."""
    from torch.profiler import ProfilerActivity, profile
    loader, model, optim_wrapper = training_setup(config, data_root, generator,
                                                  batch_size)
    batches = []
    for data in loader:
        batches.append(data)
        if len(batches) == iters + 1:
            break
    batches = (batches * (iters + 1))[:iters + 1]
    model.train_step(batches[0], optim_wrapper)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for data in batches[1:]:
            model.train_step(data, optim_wrapper)
        step = (time.perf_counter() - start) / iters
    ops = {
        e.key: e.self_cpu_time_total / 1e6 / iters
        for e in prof.key_averages()
    }
    return dict(config=config, step=step, ops=ops)


def profile_table(results: list, top: int) -> str:
    """Markdown: the ``top`` operators of each config by self CPU time,
    in ms per step and % of all operators' self time, configs side by
    side."""
    keys = []
    for r in results:
        for key, _ in sorted(r['ops'].items(), key=lambda kv: -kv[1])[:top]:
            if key not in keys:
                keys.append(key)
    names = [osp.splitext(osp.basename(r['config']))[0] for r in results]
    lines = [
        '| operator | ' + ' | '.join(names) + ' |',
        '|' + ' --- |' * (len(names) + 1)
    ]
    totals = [sum(r['ops'].values()) for r in results]
    for key in keys:
        cells = []
        for r, total in zip(results, totals):
            sec = r['ops'].get(key, 0.)
            cells.append(f'{1e3 * sec:.0f} ms ({100 * sec / total:.0f}%)')
        lines.append(f'| `{key}` | ' + ' | '.join(cells) + ' |')
    lines.append('| step (wall, profiled) | ' +
                 ' | '.join(f'{1e3 * r["step"]:.0f} ms'
                            for r in results) + ' |')
    return '\n'.join(lines)


def profile_configs(args) -> int:
    import torch
    from mmengine.logging import MMLogger

    from mmb2inst.datasets import ensure_toy_dataset
    torch.set_num_threads(args.threads)
    # the weight initialisation's report, one line per tensor, is not wanted
    MMLogger.get_instance('mmengine', log_level='WARNING')
    generator = dict(MEMORY_GENERATOR, num_train=max(4 * args.batch_size, 16))
    with tempfile.TemporaryDirectory() as tmp:
        data_root = osp.join(tmp, 'toy')
        ensure_toy_dataset(data_root, generator)
        results = [
            profile_steps(c, data_root, generator, args.iters, args.batch_size)
            for c in args.configs
        ]
    print(f'Training step of batch {args.batch_size}, {args.iters} steps '
          f'profiled, {args.threads} thread(s); self CPU time per step:\n')
    print(profile_table(results, args.top))
    return 0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    sp = sub.add_parser('speed', help='inference (and training) time ratios')
    sp.add_argument(
        '--host', nargs='+', choices=list(HOSTS), default=list(HOSTS))
    sp.add_argument('--preset', choices=['coco', 'toy'], default='coco')
    sp.add_argument('--reps', type=int, default=10)
    sp.add_argument('--warmup', type=int, default=1)
    sp.add_argument('--train-reps', type=int, default=0)
    sp.add_argument('--threads', type=int, default=None)
    sp.add_argument(
        '--references',
        action='store_true',
        help='add mmdet CondInst and Mask R-CNN beside BlendMask')
    mp = sub.add_parser('memory', help='training memory per toy model')
    mp.add_argument('--configs', nargs='+', default=MEMORY_CONFIGS)
    mp.add_argument('--iters', type=int, default=200)
    mp.add_argument('--batch-size', type=int, default=8)
    mp.add_argument(
        '--quick', action='store_true', help='20 iterations of batch 2')
    mp.add_argument('--data-root', help='toy dataset folder (default: temp)')
    mp.add_argument('--json', help='also write the results here')
    mp.add_argument('--measure', help=argparse.SUPPRESS)
    mp.add_argument('--out', help=argparse.SUPPRESS)
    op = sub.add_parser('onnx', help='onnxruntime vs PyTorch latency')
    op.add_argument('--configs', nargs='+', default=ONNX_CONFIGS)
    op.add_argument('--reps', type=int, default=20)
    op.add_argument('--warmup', type=int, default=2)
    op.add_argument('--threads', type=int, default=None)
    pp = sub.add_parser(
        'profile', help='where the time of a training step goes')
    pp.add_argument(
        '--configs',
        nargs='+',
        default=[c for _, c in HOSTS['blendmask']['toy']])
    pp.add_argument('--iters', type=int, default=5)
    pp.add_argument('--batch-size', type=int, default=8)
    pp.add_argument('--threads', type=int, default=1)
    pp.add_argument(
        '--top', type=int, default=6, help='operators listed per config')
    args = parser.parse_args(argv)
    if args.command == 'memory' and args.quick:
        args.iters, args.batch_size = 20, 2
    return args


def main(argv=None):
    args = parse_args(argv)
    from mmdet.utils import register_all_modules

    import mmb2inst  # noqa: F401
    register_all_modules()
    if args.command == 'speed':
        speed(args)
        return 0
    if args.command == 'onnx':
        onnx_speed(args)
        return 0
    if args.command == 'profile':
        return profile_configs(args)
    return memory(args)


if __name__ == '__main__':
    sys.exit(main())
