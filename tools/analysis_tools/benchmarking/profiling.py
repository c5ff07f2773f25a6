"""``benchmark.py profile``: where the time of a training step goes, by
PyTorch's profiler."""
import os.path as osp
import tempfile
import time

from .memory import MEMORY_GENERATOR
from .timing import training_setup


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
