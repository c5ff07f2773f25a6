"""The run queue: train the missing runs and score finished ones on an
extended val split, ``--jobs`` at a time, each ``tools/train.py`` or
``tools/test.py`` in its own process."""
import functools
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from .ledger import RUN_INFO, cpu_name, cpus_of, ledger_entry, stale
from .rows import ROOT, work_dir
from .run_logs import latest_metrics


def set_aside(run_dir: str) -> str:
    """Rename a stale run out of the way (never delete a run)."""
    target = f'{run_dir}.stale-{time.strftime("%Y%m%d-%H%M%S")}'
    os.rename(run_dir, target)
    return target


@functools.lru_cache(maxsize=None)
def _test_config(config: str):
    """A row's config, parsed once per process for :func:`extended_val`
    and :func:`eval_options` (read only)."""
    from mmengine.config import Config
    return Config.fromfile(osp.join(ROOT, config))


def split_name(num_images: int, seed=None) -> str:
    """The name of a scored val split: ``val<N>`` (the val split extended
    to N images) or ``val<N>-seed<S>`` (N images drawn with generator seed
    S instead of the config's: a held-out set no choice was made on)."""
    return f'val{num_images}' + ('' if seed is None else f'-seed{seed}')


def preset_root(config: str, preset=None) -> str:
    """The data_root of ``config``'s toy set, or with ``preset`` (a
    generator preset other than the config's) ``data/toy_<preset>/``."""
    if preset is None:
        return _test_config(config).test_dataloader.dataset.data_root
    return f'data/toy_{preset}/'


def extended_val(config: str, num_images: int, seed=None, preset=None):
    """Where and how to generate the val split of ``config``'s toy set
    extended to ``num_images`` images: ``(data_root, generator settings)``.

    The generator seeds every image by (seed, split, index), so the first
    images of the extended split are the val images the runs validated on
    and the rest are new draws of the same distribution, none of them a
    training image. The set lives beside the config's own data_root, as
    ``<data_root>_val<N>/``. With ``seed`` (another generator seed than the
    config's) every image is a new draw, none of them an image the runs
    trained or validated on: ``<data_root>_val<N>-seed<S>/``. With
    ``preset``: the same of that preset's toy set (:func:`preset_options`).
    """
    dataset = _test_config(config).test_dataloader.dataset
    settings = dict(dataset.get('generator') or {})
    if preset is not None:
        settings['preset'] = preset
    settings.update(num_train=0, num_val=num_images)
    if seed is not None:
        if seed == settings.get('seed', 0):
            raise ValueError(
                f'--val-seed {seed} is the seed {config} trains and '
                'validates on; give another one for a held-out set')
        settings['seed'] = seed
    name = split_name(num_images, seed)
    return f'{preset_root(config, preset).rstrip("/")}_{name}/', settings


def eval_dir(run_dir: str, num_images: int, seed=None) -> str:
    """Where the score of a run on an extended or held-out val split
    (:func:`split_name`) is kept: inside the run, so that it moves with it
    when the run is set aside."""
    return osp.join(run_dir, split_name(num_images, seed))


def eval_options(config: str, data_root: str, settings: dict) -> list:
    """``--cfg-options`` that point ``config``'s test split at the toy set
    of ``settings`` under ``data_root``."""
    return dataset_options(config, data_root, settings, ('test', ))


def preset_options(config: str, preset=None) -> list:
    """``--cfg-options`` that train and validate ``config`` on the toy set
    of generator preset ``preset`` (``data/toy_<preset>/``, generated on
    first use) instead of its own: every split's data_root and generator
    preset and every evaluator's ann_file. None: no options (its own)."""
    if preset is None:
        return []
    return dataset_options(config, preset_root(config, preset),
                           dict(preset=preset), ('train', 'val', 'test'))


def dataset_options(config: str, data_root: str, settings: dict,
                    splits) -> list:
    """``--cfg-options`` that point the dataloaders of ``splits`` (and the
    val/test evaluators' ann_file) at the toy set of generator
    ``settings`` under ``data_root``."""
    cfg = _test_config(config)
    opts = []
    for split in splits:
        key = f'{split}_dataloader.dataset'
        opts.append(f'{key}.data_root={data_root}')
        opts += [
            f'{key}.generator.{k}={v}' for k, v in sorted(settings.items())
        ]
        if split == 'train':
            continue
        ann = osp.join(data_root, cfg[f'{split}_dataloader'].dataset.ann_file)
        evaluators = cfg[f'{split}_evaluator']
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
            keys = [f'{split}_evaluator.ann_file']
        else:
            keys = [
                f'{split}_evaluator.{i}.ann_file'
                for i in range(len(evaluators))
            ]
        opts += [
            f'{key}={ann}' for key, e in zip(keys, evaluators)
            if 'ann_file' in e
        ]
    return opts


def last_checkpoint(run_dir: str):
    """The run's last checkpoint, looked up in ``run_dir`` (the path
    MMEngine recorded may be another machine's or the run's old name)."""
    marker = osp.join(run_dir, 'last_checkpoint')
    if not osp.isfile(marker):
        return None
    with open(marker) as f:
        path = osp.join(run_dir, osp.basename(f.read().strip()))
    return path if osp.isfile(path) else None


def _evaluate_one(config: str, run_dir: str, num_images: int, seed,
                  options: list, threads: int) -> bool:
    """Score the run's last checkpoint with ``tools/test.py --cfg-options
    *options`` (:func:`eval_options`, built beforehand: configs do not
    parse safely in threads) into :func:`eval_dir`."""
    out = eval_dir(run_dir, num_images, seed)
    checkpoint = last_checkpoint(run_dir)
    if checkpoint is None:
        print(
            f'[tables] cannot score {run_dir}: no last_checkpoint there',
            flush=True)
        return False
    os.makedirs(out, exist_ok=True)
    args = [
        sys.executable,
        osp.join(ROOT, 'tools', 'test.py'), config, checkpoint, '--work-dir',
        out, '--cfg-options', *options
    ]
    env = dict(
        os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    print(
        f'[tables] scoring {run_dir} on {split_name(num_images, seed)}',
        flush=True)
    with open(osp.join(out, 'test.out'), 'a') as log:
        code = subprocess.call(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        print(
            f'[tables] FAILED: scoring {run_dir}, see {out}/test.out',
            flush=True)
    return code == 0


def evaluate_missing(rows,
                     runs_dir: str,
                     seeds,
                     num_images: int,
                     jobs: int,
                     val_seed=None,
                     preset=None,
                     threads=None) -> bool:
    """Score every finished, current run of ``rows`` without a score on the
    val split extended to ``num_images`` images (drawn with generator seed
    ``val_seed`` if given; of generator ``preset`` if given; generated
    first if needed), ``jobs`` at a time (``threads`` each, default: the
    cores split between them); returns whether all succeeded."""
    from mmb2inst.datasets import ensure_toy_dataset
    todo, seen, sets = [], set(), {}
    for row in rows:
        data_root, settings = extended_val(row.toy, num_images, val_seed,
                                           preset)
        options = eval_options(row.toy, data_root, settings)
        for seed in seeds:
            run = work_dir(runs_dir, row.toy, seed)
            finished = latest_metrics(run, mode='val')[1] is not None
            if run in seen or not finished or stale(run, row.toy):
                continue  # collect() says why a stale run is left out
            seen.add(run)
            scored = latest_metrics(
                eval_dir(run, num_images, val_seed), mode='test')
            if scored[1] is None:
                todo.append((row.toy, run, num_images, val_seed, options))
                sets[data_root] = settings
    for data_root, settings in sets.items():  # once, before the jobs start
        ensure_toy_dataset(osp.join(ROOT, data_root), settings)
    threads = threads_per_run(jobs, threads)
    with ThreadPoolExecutor(jobs) as pool:
        results = list(
            pool.map(lambda job: _evaluate_one(*job, threads), todo))
    return all(results)


def _train_one(config: str, seed: int, options: list, runs_dir: str,
               threads: int) -> bool:
    """Train ``config`` with ``--cfg-options randomness.seed=<seed>
    *options`` (:func:`preset_options`, built beforehand: configs do not
    parse safely in threads) into its run under ``runs_dir``."""
    out = work_dir(runs_dir, config, seed)
    os.makedirs(out, exist_ok=True)
    args = [
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'), config, '--work-dir', out,
        '--resume', '--cfg-options', f'randomness.seed={seed}', *options
    ]
    env = dict(
        os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    print(f'[tables] training {config} seed {seed} -> {out}', flush=True)
    start = time.time()
    with open(osp.join(out, 'train.out'), 'a') as log:
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        # wait4: this child's own CPU time, which concurrent jobs on the
        # same cores do not inflate as they do its wall time
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    cpu_seconds = usage.ru_utime + usage.ru_stime
    if proc.returncode != 0:
        print(
            f'[tables] FAILED: {config} seed {seed}, see {out}/train.out',
            flush=True)
        return False
    info_path = osp.join(out, RUN_INFO)
    seconds = time.time() - start
    cpu = cpu_name()
    cpus = [cpu]
    if osp.isfile(info_path):  # a resumed run adds to its first part
        with open(info_path) as f:
            before = json.load(f)
        seconds += before['seconds']
        cpu_seconds += before.get('cpu_seconds',
                                  before['seconds'] * before['threads'])
        cpus = sorted(set(cpus_of(before)) | set(cpus))
    with open(info_path, 'w') as f:
        json.dump(
            dict(
                seconds=seconds,
                threads=threads,
                cpu_seconds=cpu_seconds,
                cpu=cpu,
                cpus=cpus), f)
    return True


def threads_per_run(jobs: int, threads=None, cores=None) -> int:
    """``threads``, or the machine's cores split between ``jobs``."""
    cores = cores or os.cpu_count() or 1
    return threads if threads else max(1, cores // jobs)


def oversubscription_warning(jobs: int, threads: int, cores: int, load: float):
    """Why runs of ``threads`` threads, ``jobs`` at a time, would crawl on
    ``cores`` cores with a 1-minute load average ``load`` (None if they
    would not).

    PyTorch's OpenMP threads spin while they wait for each other: threads
    that share cores with other busy threads wait for every step (measured
    here: two ``toy_tables.py --jobs 1`` side by side on 2 cores, 2 threads a
    run, trained YOLACT at 2-9 s an iteration instead of 0.4).
    """
    if jobs * threads > cores:
        return (f'{jobs} runs x {threads} threads > {cores} cores: the runs '
                'will wait for each other\'s cores; lower --jobs or '
                '--threads.')
    if threads > 1 and load >= 1:
        return (f'the load average is {load:.1f} before training: another '
                f'job uses the cores, and runs of {threads} threads would '
                'spin-wait for them (5-20x slower); pass --threads 1 or '
                'wait for it to finish.')
    return None


def train_missing(rows,
                  runs_dir: str,
                  seeds,
                  jobs: int,
                  ledger=None,
                  threads=None,
                  preset=None) -> bool:
    """Train every (row, seed) without a validation record under
    ``runs_dir`` or a current entry in ``ledger``, ``jobs`` at a time
    (``threads`` each, default: the cores split between them), on the toy
    set of generator ``preset`` if given (:func:`preset_options`); returns
    whether all succeeded."""
    todo = []
    # seed by seed: a --train stopped part-way leaves whole seeds, every
    # row of a seed beside its baseline, not a few rows with many seeds
    for seed in seeds:
        for row in rows:
            run = work_dir(runs_dir, row.toy, seed)
            if osp.isdir(run) and stale(run, row.toy):
                print(
                    f'[tables] {run} trained another model than {row.toy} '
                    f'builds now; moved to {set_aside(run)}, retraining',
                    flush=True)
            _, record = latest_metrics(run, mode='val')
            if record is None and not osp.isdir(run) and ledger_entry(
                    ledger or {}, row.toy, seed) is not None:
                continue  # recorded on an earlier machine
            if record is None and all(job[:2] != (row.toy, seed)
                                      for job in todo):
                todo.append((row.toy, seed, preset_options(row.toy, preset)))
    threads = threads_per_run(jobs, threads)
    warning = oversubscription_warning(jobs, threads,
                                       os.cpu_count() or 1,
                                       os.getloadavg()[0]) if todo else None
    if warning:
        print(f'[tables] warning: {warning}', flush=True)
    with ThreadPoolExecutor(jobs) as pool:
        results = list(
            pool.map(lambda job: _train_one(*job, runs_dir, threads), todo))
    return all(results)
