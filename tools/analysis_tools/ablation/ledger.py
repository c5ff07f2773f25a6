"""The ledger of finished runs (``docs/toy_runs.jsonl``), kept in the
repository because work_dirs do not outlive a machine, and what identifies a
run: the model its config builds, the CPUs it trained on."""
import functools
import glob
import hashlib
import inspect
import json
import os
import os.path as osp
import platform
import time

from .rows import METRICS, work_dir
from .run_logs import latest_metrics

RUN_INFO = 'run_info.json'  # wall time, threads, CPU time of a --train run

# Every finished run's scores, kept in the repository: work_dirs do not
# outlive a machine, this file does (:func:`record_runs`).
LEDGER = 'docs/toy_runs.jsonl'


def _with_defaults(cfg):
    """``cfg`` with every registered module's unset arguments filled by
    their defaults (walking the class's bases) and tuples as lists, so that
    two configs building the same model compare equal."""
    from mmdet.registry import MODELS
    if isinstance(cfg, (list, tuple)):
        return [_with_defaults(v) for v in cfg]
    if not isinstance(cfg, dict):
        return cfg
    out = {k: _with_defaults(v) for k, v in cfg.items()}
    cls = MODELS.get(out['type']) if isinstance(out.get('type'), str) else None
    for klass in getattr(cls, '__mro__', ()):
        if '__init__' not in vars(klass):
            continue
        for name, param in inspect.signature(
                klass.__init__).parameters.items():
            if name not in out and param.default is not param.empty:
                out[name] = _with_defaults(param.default)
    return out


def stale(run_dir: str, config: str) -> bool:
    """Whether the run in ``run_dir`` trained another model than ``config``
    now builds (its dumped config's ``model``, defaults filled in, differs):
    the result of a config edited since must not stand in the table for the
    config as it is."""
    dumped = osp.join(run_dir, osp.basename(config))
    if not osp.isfile(dumped):
        return False
    # not cached: a retrained run rewrites its dump
    return _model_of(dumped) != _current_model(config)


def _model_of(config: str) -> dict:
    """The ``model`` of the config file, defaults filled in."""
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules(init_default_scope=False)
    return _with_defaults(Config.fromfile(config).model.to_dict())


@functools.lru_cache(maxsize=None)
def _current_model(config: str) -> dict:
    """:func:`_model_of` a row's config, parsed once per process (checked
    for every seed, before training and again for the table)."""
    return _model_of(config)


def model_digest(model: dict) -> str:
    """A short fingerprint of a model config (:func:`_model_of`): two runs
    with the same one trained the same model."""
    text = json.dumps(model, sort_keys=True, default=repr)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def current_digest(config: str) -> str:
    return model_digest(_current_model(config))


def _read_entries(path: str) -> list:
    if not osp.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _key(entry: dict) -> tuple:
    """An entry's place in the ledger: its config, seed and toy preset
    (None: the config's own; entries without one are of the config's
    own)."""
    return entry['config'], entry['seed'], entry.get('preset')


def read_ledger(path: str, preset=None) -> dict:
    """``{(config, seed): entry}`` of the ledger at ``path`` (empty when
    there is none), the runs on the toy set of generator ``preset`` (None:
    each config's own)."""
    return {
        (e['config'], e['seed']): e
        for e in _read_entries(path) if e.get('preset') == preset
    }


def ledger_entry(ledger: dict, config: str, seed: int):
    """The ledger's entry of ``config`` / ``seed`` if it trained the model
    the config builds now, else None."""
    entry = ledger.get((config, seed))
    if entry is None or entry['model'] != current_digest(config):
        return None
    return entry


def _metrics(record: dict) -> dict:
    return {k: record[k] for k in METRICS if k in record}


def record_runs(rows, runs_dir: str, seeds, path: str, preset=None) -> int:
    """Add every finished, current run of ``rows`` under ``runs_dir`` to
    the ledger at ``path``: its config, seed, model fingerprint, CPU(s),
    threads, training CPU time, last validation and any scores on an
    extended val split (``val<N>``, ``val<N>-seed<S>``), and with
    ``preset`` the generator preset it trained on (the runs of one
    ``runs_dir`` are of one toy set). An entry of the same run (same model
    and CPUs) gains what is new; a draw of the same seed on another CPU
    does not replace the one recorded (it is another draw, and the first
    one's pairs stand). Returns the number of entries written or updated.
    """
    ledger = {_key(e): e for e in _read_entries(path)}
    changed = 0
    for row in rows:
        for seed in seeds:
            run = work_dir(runs_dir, row.toy, seed)
            _, val = latest_metrics(run, mode='val')
            if val is None or stale(run, row.toy):
                continue
            info = {}
            if osp.isfile(osp.join(run, RUN_INFO)):
                with open(osp.join(run, RUN_INFO)) as f:
                    info = json.load(f)
            scores = dict(val=_metrics(val))
            for scored in sorted(glob.glob(osp.join(run, 'val[0-9]*'))):
                _, record = latest_metrics(scored, mode='test')
                if record is not None:
                    scores[osp.basename(scored)] = _metrics(record)
            entry = dict(
                config=row.toy,
                seed=seed,
                model=current_digest(row.toy),
                cpus=cpus_of(info),
                threads=info.get('threads'),
                cpu_seconds=info.get('cpu_seconds'),
                scores=scores)
            if preset is not None:
                entry['preset'] = preset
            old = ledger.get(_key(entry))
            if old is not None and old['model'] == entry['model']:
                if old['cpus'] != entry['cpus']:
                    print(
                        f'[tables] not recorded: {run} is another draw of a '
                        f'seed the ledger holds from {old["cpus"]}',
                        flush=True)
                    continue
                entry['scores'] = dict(old['scores'], **scores)
                if entry == {k: v for k, v in old.items() if k != 'recorded'}:
                    continue
            entry['recorded'] = time.strftime('%Y-%m-%d')
            ledger[_key(entry)] = entry
            changed += 1
    if changed:
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(path, 'w') as f:
            for key in sorted(ledger, key=lambda k: (k[0], k[1], k[2] or '')):
                f.write(json.dumps(ledger[key], sort_keys=True) + '\n')
    return changed


def _run_infos(runs_dir: str, rows, seeds, ledger=None):
    """The run_info of every run of the table: its run_info.json under
    ``runs_dir``, else its ledger entry."""
    for row in rows:
        for seed in seeds:
            path = osp.join(work_dir(runs_dir, row.toy, seed), RUN_INFO)
            if osp.isfile(path):
                with open(path) as f:
                    yield json.load(f)
                continue
            recorded = ledger_entry(ledger or {}, row.toy, seed)
            if recorded is not None:
                yield recorded


def run_seconds(runs_dir: str, rows, seeds, ledger=None) -> float:
    """Training CPU time of the table's runs (from their run_info.json or
    ledger entry; wall time x threads for runs recorded without it)."""
    return sum(
        info.get('cpu_seconds') or (info.get('seconds', 0) *
                                    (info.get('threads') or 1))
        for info in _run_infos(runs_dir, rows, seeds, ledger))


def run_cpus(runs_dir: str, rows, seeds, ledger=None) -> list:
    """The CPUs the table's runs were trained on (runs recorded before the
    CPU was: not counted). The same seed on another CPU is another draw, so
    a table should come from one."""
    return sorted({
        cpu
        for info in _run_infos(runs_dir, rows, seeds, ledger)
        for cpu in cpus_of(info)
    })


def cpus_of(info: dict) -> list:
    """Every CPU a run trained on (a resumed run may span machines)."""
    return info.get('cpus') or ([info['cpu']] if info.get('cpu') else [])


def cpu_name() -> str:
    """This machine's CPU model, as /proc/cpuinfo names it."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
