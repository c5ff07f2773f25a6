"""``benchmark.py memory``: the RSS of a training step and its trend over
the iterations, each toy model in its own process."""
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time

from .speed import HOSTS
from .timing import training_setup

# the tool itself: each model is measured in a process of its own
SCRIPT = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'benchmark.py')
MEMORY_CONFIGS = [c for host in HOSTS.values() for _, c in host['toy']]
MEMORY_GENERATOR = dict(num_val=8, img_size=128, seed=5)


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
            sys.executable, SCRIPT, 'memory', '--measure', config, '--out',
            out, '--data-root', data_root, '--iters',
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
