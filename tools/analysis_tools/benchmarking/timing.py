"""Timing, FLOP counting and model set-up shared by the benchmarks."""
import os.path as osp
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
