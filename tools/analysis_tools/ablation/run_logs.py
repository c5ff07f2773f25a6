"""Reading the metrics MMEngine logged in a work_dir."""
import glob
import json
import os.path as osp
from typing import Optional, Tuple


def latest_metrics(work_dir: str,
                   mode: str = 'any') -> Tuple[Optional[str], Optional[dict]]:
    """The last metrics record (keys with 'mAP') of the newest run folder
    that has one.

    Training runs log them to ``<run>/vis_data/<run>.json`` (with an
    ``epoch``/``step`` key), test runs to ``<run>/<run>.json``.

    Args:
        work_dir (str): A work_dir with timestamped run folders.
        mode (str): ``'val'`` (records of training runs), ``'test'``
            (records of test runs) or ``'any'``.

    Returns:
        tuple: The run folder and its record, or ``(None, None)``.
    """
    for run in sorted(glob.glob(osp.join(work_dir, '2*_*')), reverse=True):
        name = osp.basename(run) + '.json'
        for log in (osp.join(run, name), osp.join(run, 'vis_data', name)):
            if not osp.isfile(log):
                continue
            with open(log) as f:
                records = [json.loads(line) for line in f if line.strip()]
            records = [r for r in records if any('mAP' in k for k in r)]
            if not records:
                continue
            is_val = 'step' in records[-1] or 'epoch' in records[-1]
            if mode == 'any' or (mode == 'val') == is_val:
                return run, records[-1]
    return None, None
