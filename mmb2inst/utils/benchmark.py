"""Helpers of the side-by-side speed benchmarks in ``tools/``."""
import statistics
import time
from typing import Callable, Dict, List, Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode


def copy_shared_weights(src: torch.nn.Module, dst: torch.nn.Module) -> tuple:
    """Give ``dst`` every weight of ``src`` whose name and shape match, so
    that two variants of a model make the same detections.

    Returns:
        tuple: (number of copied tensors, number of tensors of ``dst``).
    """
    dst_state = dst.state_dict()
    shared = {
        k: v
        for k, v in src.state_dict().items()
        if k in dst_state and dst_state[k].shape == v.shape
    }
    dst.load_state_dict(shared, strict=False)
    return len(shared), len(dst_state)


def timed(fn: Callable) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def gflops(fn: Callable) -> float:
    """Floating-point operations (convolutions, matmuls) of one call, in
    GFLOPs: independent of the machine's load."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def interleaved_times(fns: Sequence[Callable],
                      reps: int,
                      warmup: int = 1) -> List[List[float]]:
    """Time several functions round-robin (a, b, c, a, b, c, ...), so that
    load changes of a shared machine hit all of them alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(reps):
        for fn, out in zip(fns, times):
            out.append(timed(fn))
    return times


def ratio_table(names: Sequence[str],
                times: List[List[float]],
                baseline: int = 0) -> Dict[str, tuple]:
    """Median time of each function and the median over repetitions of its
    ratio to the baseline's time in the same repetition."""
    base = times[baseline]
    return {
        name:
        (statistics.median(t), statistics.median(b / a
                                                 for a, b in zip(base, t)))
        for name, t in zip(names, times)
    }
