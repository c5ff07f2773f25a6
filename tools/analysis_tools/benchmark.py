"""Speed and memory of the models, measured side by side.

    python tools/analysis_tools/benchmark.py speed [--host yolact blendmask]
        [--preset coco] [--reps 10] [--train-reps 0] [--threads 2]
        [--references] [--breakdown]
    python tools/analysis_tools/benchmark.py memory [--configs C ...]
        [--iters 200] [--batch-size 8] [--quick]
    python tools/analysis_tools/benchmark.py profile [--configs C ...]
        [--iters 5] [--batch-size 8] [--threads 1] [--top 6]
    python tools/analysis_tools/benchmark.py onnx [--configs C ...]
        [--reps 20] [--threads 2]

The measurements are in ``benchmarking/`` beside this file, one module per
subcommand.

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
CondInst and Mask R-CNN beside BlendMask. ``--breakdown`` adds where the
scorer's time goes, per B2Inst model with a scorer (RoI features, mask
inputs, head, Eq. 2; ``benchmarking/scorer_stages.py``).

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
import sys

from benchmarking import memory, onnx_speed, profiling, speed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    sp = sub.add_parser('speed', help='inference (and training) time ratios')
    sp.add_argument(
        '--host',
        nargs='+',
        choices=list(speed.HOSTS),
        default=list(speed.HOSTS))
    sp.add_argument('--preset', choices=['coco', 'toy'], default='coco')
    sp.add_argument('--reps', type=int, default=10)
    sp.add_argument('--warmup', type=int, default=1)
    sp.add_argument('--train-reps', type=int, default=0)
    sp.add_argument(
        '--breakdown',
        action='store_true',
        help="where the scorer's time goes (RoI features, mask inputs, "
        'head, Eq. 2)')
    sp.add_argument('--threads', type=int, default=None)
    sp.add_argument(
        '--references',
        action='store_true',
        help='add mmdet CondInst and Mask R-CNN beside BlendMask')
    mp = sub.add_parser('memory', help='training memory per toy model')
    mp.add_argument('--configs', nargs='+', default=memory.MEMORY_CONFIGS)
    mp.add_argument('--iters', type=int, default=200)
    mp.add_argument('--batch-size', type=int, default=8)
    mp.add_argument(
        '--quick', action='store_true', help='20 iterations of batch 2')
    mp.add_argument('--data-root', help='toy dataset folder (default: temp)')
    mp.add_argument('--json', help='also write the results here')
    mp.add_argument('--measure', help=argparse.SUPPRESS)
    mp.add_argument('--out', help=argparse.SUPPRESS)
    op = sub.add_parser('onnx', help='onnxruntime vs PyTorch latency')
    op.add_argument('--configs', nargs='+', default=onnx_speed.ONNX_CONFIGS)
    op.add_argument('--reps', type=int, default=20)
    op.add_argument('--warmup', type=int, default=2)
    op.add_argument('--threads', type=int, default=None)
    pp = sub.add_parser(
        'profile', help='where the time of a training step goes')
    pp.add_argument(
        '--configs',
        nargs='+',
        default=[c for _, c in speed.HOSTS['blendmask']['toy']])
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
        speed.speed(args)
        return 0
    if args.command == 'onnx':
        onnx_speed.onnx_speed(args)
        return 0
    if args.command == 'profile':
        return profiling.profile_configs(args)
    return memory.memory(args)


if __name__ == '__main__':
    sys.exit(main())
