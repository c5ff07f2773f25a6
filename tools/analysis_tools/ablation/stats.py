"""Per-row means over seeds and each row's change over its baseline, paired
by seed, with Student's t confidence intervals."""
import math
import statistics
from collections import OrderedDict

from .ledger import ledger_entry, stale
from .rows import DELTAS, METRICS, work_dir
from .run_logs import latest_metrics
from .run_queue import eval_dir, split_name

# Two-sided 95% quantiles of Student's t, by degrees of freedom (1.96
# beyond 30).
T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    11: 2.201,
    12: 2.179,
    13: 2.160,
    14: 2.145,
    15: 2.131,
    16: 2.120,
    17: 2.110,
    18: 2.101,
    19: 2.093,
    20: 2.086,
    21: 2.080,
    22: 2.074,
    23: 2.069,
    24: 2.064,
    25: 2.060,
    26: 2.056,
    27: 2.052,
    28: 2.048,
    29: 2.045,
    30: 2.042
}

# The half-width (AP points) of the 95% CI the protocol aims at.
RESOLUTION = 0.5


def points(record: dict, key: str):
    value = None if record is None else record.get(key)
    return None if value is None or value < 0 else 100 * value


def _half_width(sd: float, n: int) -> float:
    """Half-width of the 95% confidence interval of a mean over ``n``
    values of sample std ``sd``."""
    return T975.get(n - 1, 1.96) * sd / math.sqrt(n)


def mean_ci(values):
    """Mean and the half-width of its 95% confidence interval (None with
    fewer than two values)."""
    if not values:
        return None, None
    mean = statistics.mean(values)
    if len(values) < 2:
        return mean, None
    return mean, _half_width(statistics.stdev(values), len(values))


def seeds_needed(diffs, half_width: float = RESOLUTION):
    """Fewest seeds whose paired 95% CI would be at most ``half_width`` on
    each side if the paired differences kept the spread measured in
    ``diffs`` (None with fewer than two)."""
    if len(diffs) < 2:
        return None
    sd = statistics.stdev(diffs)
    n = 2
    while _half_width(sd, n) > half_width:
        n += 1
    return n


def collect(rows,
            runs_dir: str,
            seeds,
            val_images=None,
            ledger=None,
            val_seed=None):
    """Per row: ``records`` ``{seed: last validation record}`` (with
    ``val_images``: the run's score on the val split extended to that many
    images instead, drawn with generator seed ``val_seed`` if given, see
    :func:`evaluate_missing`; a run not under
    ``runs_dir``: its entry in ``ledger``, :func:`read_ledger`, if that
    trained the current model), ``mean`` / ``std`` per
    metric, and (non-baseline rows) ``delta`` / ``ci`` per metric of
    :data:`DELTAS` with ``paired`` seeds, ``paper_delta`` and
    ``seeds_needed`` (for a ±:data:`RESOLUTION` CI of the segm change)."""
    out = OrderedDict()
    for row in rows:
        records = {}
        for seed in seeds:
            run = work_dir(runs_dir, row.toy, seed)
            if val_images:
                _, record = latest_metrics(
                    eval_dir(run, val_images, val_seed), mode='test')
            else:
                _, record = latest_metrics(run, mode='val')
            if record is not None and stale(run, row.toy):
                print(
                    f'[tables] left out {run}: it trained another model '
                    f'than {row.toy} builds now (retrain it with --train)',
                    flush=True)
                record = None
            recorded = ledger_entry(ledger or {}, row.toy, seed)
            if record is None and recorded is not None:
                record = recorded['scores'].get(
                    split_name(val_images, val_seed) if val_images else 'val')
            if record is not None:
                records[seed] = record
        entry = dict(row=row, records=records, mean={}, std={})
        for key in METRICS:
            values = [points(r, key) for r in records.values()]
            values = [v for v in values if v is not None]
            entry['mean'][key] = statistics.mean(values) if values else None
            entry['std'][key] = statistics.stdev(values) if len(
                values) > 1 else None
        out[row.label] = entry
    for entry in out.values():
        row = entry['row']
        if row.base is None:
            continue
        base = out[row.base]
        entry['paper_delta'] = (None if row.paper is None else row.paper -
                                base['row'].paper)
        paired = [s for s in entry['records'] if s in base['records']]
        entry['paired'] = paired
        entry['delta'], entry['ci'] = {}, {}
        for key in DELTAS:
            diffs = [
                points(entry['records'][s], key) -
                points(base['records'][s], key) for s in paired
            ]
            entry['delta'][key], entry['ci'][key] = mean_ci(diffs)
            if key == DELTAS[0]:
                entry['seeds_needed'] = seeds_needed(diffs)
    return list(out.values())
