"""``benchmark.py speed --breakdown``: where the boundary-aware scorer's
inference time goes, per image, beside the host's whole prediction.

Stages (wall time, measured by wrapping the modules of a built model, so
the model code carries no timers):

- ``RoI features``: the scorer's RoI extractor over the FPN levels;
- ``head``: its convs, fcs and predictors;
- ``mask inputs``: the rest of the scorer's call (the masks and their
  Laplacian boundaries, pooled to the RoI size) plus, on YOLACT, the
  resampling of each instance's mask into its box (``masks_in_boxes``);
- ``Eq. 2``: the mask scores from the class, IoU and boundary scores.
"""
import contextlib
import statistics
import time
from typing import Callable, Dict

STAGES = ('RoI features', 'mask inputs', 'head', 'Eq. 2')


def _timed_call(fn: Callable, totals: Dict[str, float], key: str):

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            totals[key] = totals.get(key, 0.) + time.perf_counter() - start

    return wrapper


@contextlib.contextmanager
def stage_timers(model, totals: Dict[str, float]):
    """Accumulate into ``totals`` the wall time of the scorer's parts of
    ``model`` (seconds, keys ``roi``, ``head``, ``predict``, ``host_masks``,
    ``eq2``) while the context is open; the model is restored after."""
    from mmb2inst.models.mask_heads import (b2inst_yolact_protonet,
                                            blendmask_mask_head)
    scorer = model.mask_head.scorer
    patched = [(scorer, 'roi_features', 'roi'), (scorer, 'head', 'head'),
               (scorer, 'predict', 'predict')]
    patched += [(b2inst_yolact_protonet, 'masks_in_boxes', 'host_masks'),
                (b2inst_yolact_protonet, 'rescore', 'eq2'),
                (blendmask_mask_head, 'rescore', 'eq2')]
    saved = []
    for owner, attr, key in patched:
        fn = getattr(owner, attr)
        saved.append((owner, attr, owner.__dict__.get(attr)))
        setattr(owner, attr, _timed_call(fn, totals, key))
    try:
        yield totals
    finally:
        for owner, attr, old in reversed(saved):
            if old is None:
                delattr(owner, attr)
            else:
                setattr(owner, attr, old)


def stages(totals: Dict[str, float], images: int) -> Dict[str, float]:
    """Seconds per image of each of ``STAGES`` and their ``total``, from
    the accumulated ``totals`` of :func:`stage_timers`."""
    per = {k: v / images for k, v in totals.items()}
    out = {
        'RoI features': per.get('roi', 0.),
        'head': per.get('head', 0.),
        'Eq. 2': per.get('eq2', 0.),
    }
    out['mask inputs'] = (
        per.get('predict', 0.) - out['RoI features'] - out['head'] +
        per.get('host_masks', 0.))
    out['total'] = sum(out[k] for k in STAGES)
    return out


def breakdown(names, models, predict, host_seconds: float, reps: int) -> str:
    """A markdown table: each scorer stage of each model that has a scorer,
    in ms per image (median over ``reps`` predictions) and as a share of
    the host's time per image ``host_seconds``."""
    columns, rows = [], {k: [] for k in STAGES + ('total', )}
    for name, model in zip(names, models):
        if getattr(getattr(model, 'mask_head', None), 'scorer', None) is None:
            continue
        runs = []
        for _ in range(reps):
            totals = {}
            with stage_timers(model, totals):
                predict(model)
            runs.append(stages(totals, 1))
        columns.append(name)
        for key in rows:
            sec = statistics.median(r[key] for r in runs)
            rows[key].append(f'{1e3 * sec:.1f} ms '
                             f'({100 * sec / host_seconds:.1f}%)')
    lines = [
        '| scorer stage, per image (% of the host) | ' + ' | '.join(columns) +
        ' |', '| --- |' + ' --- |' * len(columns)
    ]
    lines += [f'| {k} | ' + ' | '.join(v) + ' |' for k, v in rows.items()]
    return '\n'.join(lines)
