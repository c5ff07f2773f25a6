"""Memory of training each toy model on CPU: peak of a training step, and
whether the resident memory keeps growing over the iterations.

    python tools/benchmark_memory.py [--configs C ...] [--iters 200]
        [--batch-size 8] [--quick]

Each config trains in its own process (so that peaks do not mix) on a small
generated toy dataset through the config's own training pipeline and data
loader (``num_workers=0``: loading counts in the measured process), with the
config's optimizer, from random weights. Measured from ``/proc/self/status``:

* before: RSS after the model, optimizer and data loader are built;
* step peak: the highest RSS during a training step (the high-water mark is
  reset before each step through ``/proc/self/clear_refs``; where that is not
  allowed, the process's lifetime peak), the largest over all steps;
* RSS after iteration 10, ``iters // 2`` and ``iters``, and the growth from
  iteration 10 to the end (MB and %).

The RSS after every iteration goes into the verdict: the least-squares trend
from iteration 10 on (the allocator's caches fill in the first iterations,
and the RSS then wanders by some MB as batches differ) in MB per 100
iterations. "stable" when the trend adds up to at most max(2 %, 16 MB) over
the run (about 80 kB per iteration at 200 iterations), "grows" otherwise.
Prints a markdown table; set OMP_NUM_THREADS for comparable runs.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

import _source_checkout  # noqa: F401  (before mmb2inst)

CONFIGS = [
    'configs/yolact/yolact_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_hbb-bs-ms_r18_1xb8-12e_toy.py',
    'configs/blendmask/blendmask_r18_1xb8-12e_toy.py',
    'configs/b2inst_blendmask/b2inst-blendmask_r18_1xb8-12e_toy.py',
]
GENERATOR = dict(num_val=8, img_size=128, seed=5)


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


def measure(config: str, data_root: str, generator: dict, iters: int,
            batch_size: int) -> dict:
    """Train ``config`` for ``iters`` steps in this process; the numbers."""
    import torch
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
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
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


def table(results: list) -> str:
    marks = sorted({int(k) for r in results for k in r.get('rss', {})})
    head = ['config', 'params (M)', 'before (MB)', 'step peak (MB)']
    head += [f'RSS @{m} (MB)' for m in marks]
    head += [f'growth {marks[0]}→{marks[-1]}', 'verdict', 's/iter']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + ' --- |' * len(head)]
    for r in results:
        if 'error' in r:
            cells = [osp.basename(r['config']), r['error']]
            cells += [''] * (len(head) - 2)
        else:
            rss = {int(k): v for k, v in r['rss'].items()}
            grow = rss[marks[-1]] - rss[marks[0]]
            peak = f'{r["step_peak"]:.0f}' + ('' if r['peak_per_step'] else
                                              ' (process)')
            cells = [
                osp.splitext(osp.basename(r['config']))[0],
                f'{r["params"] / 1e6:.2f}', f'{r["before"]:.0f}', peak
            ]
            cells += [f'{rss[m]:.0f}' for m in marks]
            cells += [
                f'{grow:+.0f} MB ({100 * grow / rss[marks[0]]:+.1f} %)',
                verdict(r['trace']), f'{r["sec_per_iter"]:.2f}'
            ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--configs', nargs='+', default=CONFIGS, help='toy model configs')
    parser.add_argument('--iters', type=int, default=200)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument(
        '--quick',
        action='store_true',
        help='a smoke run: 20 iterations of batch 2')
    parser.add_argument(
        '--data-root',
        help='toy dataset folder (default: a temporary one, generated)')
    parser.add_argument('--json', help='also write the results here')
    parser.add_argument(
        '--table',
        nargs='+',
        help='only print the table of these --json files (merged)')
    # internal: measure one config in this process
    parser.add_argument('--measure', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.iters, args.batch_size = 20, 2
    return args


def main():
    args = parse_args()
    if args.table:
        results = []
        for path in args.table:
            with open(path) as f:
                results += json.load(f)
        print(table(results))
        return
    # enough images for a few different batches; small, to generate fast
    generator = dict(GENERATOR, num_train=max(4 * args.batch_size, 16))
    if args.measure:
        result = measure(args.measure, args.data_root, generator, args.iters,
                         args.batch_size)
        with open(args.out, 'w') as f:
            json.dump(result, f)
        return
    from mmb2inst.datasets import ensure_toy_dataset
    tmp = tempfile.TemporaryDirectory()
    data_root = args.data_root or osp.join(tmp.name, 'toy')
    ensure_toy_dataset(data_root, generator)
    results = []
    for config in args.configs:
        out = osp.join(tmp.name, 'result.json')
        cmd = [
            sys.executable,
            osp.abspath(__file__), '--measure', config, '--out', out,
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
    print(table(results))
    tmp.cleanup()
    if any('error' in r for r in results):
        sys.exit(1)


if __name__ == '__main__':
    main()
