"""Checks that ``tools/train.py`` and ``tools/test.py`` run before (and
around) MMEngine's runner, so that bad input ends in a message that says what
is wrong and what to do instead of a traceback from deep inside, and so that
nothing a user already has in a work_dir is overwritten.
"""
import contextlib
import difflib
import glob
import os.path as osp
import sys
from typing import Iterator, List, Optional, Sequence

from mmengine.config import Config

from mmb2inst.errors import TrainingDivergedError  # noqa: F401
from mmb2inst.errors import ConfigError, UserInputError

TOY_DATASET_TYPES = ('ToyShapesDataset', 'mmdet.ToyShapesDataset')


def _dataset_cfgs(dataset_cfg: dict, path: str) -> Iterator[tuple]:
    """Yield ``(key path, dataset cfg)`` through dataset wrappers."""
    if 'dataset' in dataset_cfg:  # RepeatDataset, ClassBalancedDataset, ...
        yield from _dataset_cfgs(dataset_cfg['dataset'], path + '.dataset')
    elif 'datasets' in dataset_cfg:  # ConcatDataset
        for i, sub in enumerate(dataset_cfg['datasets']):
            yield from _dataset_cfgs(sub, f'{path}.datasets[{i}]')
    else:
        yield path, dataset_cfg


def _join(root: Optional[str], path: Optional[str]) -> Optional[str]:
    if path is None:
        return None
    if root and not osp.isabs(path) and '://' not in path:
        return osp.join(root, path)
    return path


def check_datasets(cfg: Config, loaders: Sequence[str]) -> None:
    """Fail early and clearly when a dataset of ``loaders`` is not on disk.

    The toy dataset is skipped: it is generated on first use.
    """
    problems = []
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not loader_cfg or 'dataset' not in loader_cfg:
            continue
        for key, ds in _dataset_cfgs(loader_cfg['dataset'],
                                     loader + '.dataset'):
            if ds.get('type') in TOY_DATASET_TYPES:
                continue
            if ds.get('backend_args'):
                continue  # remote storage: let the backend report
            root = ds.get('data_root')
            ann = _join(root, ds.get('ann_file') or None)
            if ann and not osp.exists(ann):
                problems.append(f'{key}: annotation file {ann} does not '
                                'exist')
            prefix = ds.get('data_prefix') or {}
            img = _join(root, prefix.get('img') or prefix.get('img_path'))
            if img and not osp.isdir(img):
                problems.append(f'{key}: image folder {img} does not exist')
    if problems:
        raise UserInputError(
            'Dataset not found:\n  ' + '\n  '.join(problems) + '\n'
            'Put the dataset there (for COCO: data/coco/{annotations,'
            'train2017,val2017}, a symlink is fine), or point the config at '
            'it, e.g. --cfg-options '
            'train_dataloader.dataset.data_root=/path/to/coco/ '
            'val_dataloader.dataset.data_root=/path/to/coco/ '
            'val_evaluator.ann_file=/path/to/coco/annotations/'
            'instances_val2017.json. The toy configs need nothing: their '
            'dataset is generated on first use.')


def checkpoints_in(work_dir: str) -> List[str]:
    return sorted(glob.glob(osp.join(work_dir, '*.pth')))


def protect_work_dir(work_dir: str, resume: bool,
                     load_from: Optional[str]) -> None:
    """Refuse to start a fresh run over an earlier run's checkpoints.

    MMEngine would overwrite ``epoch_N.pth`` and ``last_checkpoint`` of the
    earlier run without asking.
    """
    if resume:
        return
    existing = [
        p for p in checkpoints_in(work_dir)
        if load_from is None or osp.abspath(p) != osp.abspath(load_from)
    ]
    if existing:
        names = ', '.join(osp.basename(p) for p in existing[:4])
        raise UserInputError(
            f'The work_dir {work_dir} already holds checkpoints of an earlier '
            f'run ({names}{", ..." if len(existing) > 4 else ""}); a new run '
            'would overwrite them. Add --resume to continue that run, pass '
            '--work-dir to train somewhere else, or move the old run away '
            'yourself.')


def _find_type_keys(node, name: str, path: str = '') -> List[str]:
    """Key paths of every ``type=name`` in a config tree."""
    found = []
    if isinstance(node, dict):
        if node.get('type') == name:
            found.append(f'{path}.type' if path else 'type')
        for k, v in node.items():
            found += _find_type_keys(v, name, f'{path}.{k}' if path else k)
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            found += _find_type_keys(v, name, f'{path}[{i}]')
    return found


def _registered_names() -> List[str]:
    import mmdet.registry as det_reg
    from mmengine.registry import Registry
    names = set()
    for reg in vars(det_reg).values():
        while isinstance(reg, Registry):
            names.update(reg.module_dict)
            reg = reg.parent
    return sorted(names)


def unknown_type_message(cfg: Config, err: KeyError) -> Optional[str]:
    """Turn a registry ``KeyError`` into a message naming the config key."""
    text = str(err.args[0]) if err.args else ''
    if 'is not in the' not in text or 'registry' not in text:
        return None
    name = text.split(' is not in the')[0].strip().strip('\'"`')
    registry = text.split('is not in the')[1].split('registry')[0].strip()
    keys = _find_type_keys(cfg.to_dict(), name)
    close = difflib.get_close_matches(name, _registered_names(), n=3)
    msg = f'Config error: unknown type {name!r} ({registry} registry)'
    if keys:
        msg += ' at ' + ', '.join(keys)
    msg += '.'
    if close:
        msg += ' Did you mean ' + ' or '.join(repr(c) for c in close) + '?'
    msg += (' Fix the type name, or add the package that registers it to '
            "custom_imports (mmb2inst's configs have custom_imports = "
            "dict(imports=['mmb2inst'])).")
    return msg


@contextlib.contextmanager
def friendly_errors(cfg: Optional[Config] = None):
    """Print known user errors as one clear message and exit with code 1.

    Anything else propagates with its traceback: it is a bug to report.
    """
    from .checkpoint import CheckpointMismatchError
    try:
        yield
    except ConfigError as e:
        _exit(f'Config error: {e}')
    except (UserInputError, CheckpointMismatchError,
            TrainingDivergedError) as e:
        _exit(str(e))
    except KeyError as e:
        msg = unknown_type_message(cfg, e) if cfg is not None else None
        if msg is None:
            raise
        _exit(msg)
    except Exception as e:  # noqa: B902
        text = str(e)
        if any(sign in text for sign in DIVERGENCE_SIGNS):
            _exit(_diverged_message(text))
        if 'failed to load image' in text or 'imdecode' in text:
            path = text.split('failed to load image:')[-1].strip().split(
                '\n')[0] if 'failed to load image:' in text else '?'
            _exit(f'Could not read the image {path}: the file is corrupt or '
                  'not an image. Replace it, or remove its entry from the '
                  'annotation file, then run again (--resume continues from '
                  'the last checkpoint).')
        raise


# What mmdet's heads raise when non-finite values reach them (the
# LossGuardHook usually stops the run an iteration earlier).
DIVERGENCE_SIGNS = ('infinite or NaN', 'should be between 0 and 1')


def _diverged_message(text: str) -> str:
    from mmengine.logging import MessageHub
    it = MessageHub.get_current_instance().get_info('iter')
    at = f' at iteration {it + 1}' if it is not None else ''
    return (f'training diverged{at}: non-finite values reached the model '
            f'({text.strip().splitlines()[-1]}). Checkpoints written before '
            'are untouched; --resume continues from the last one. Lower the '
            'learning rate, lengthen the warm-up or clip gradients '
            '(optim_wrapper.clip_grad=dict(max_norm=35)).')


def _exit(message: str) -> None:
    print(f'\nmmb2inst: {message}', file=sys.stderr)
    sys.exit(1)


def add_runner_args(parser) -> None:
    """The arguments ``tools/train.py`` and ``tools/test.py`` share."""
    from mmengine.config import DictAction
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value (e.g. '
        'train_cfg.max_epochs=2 "model.backbone.depth=50")')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed passes --local-rank (torch >= 2.0) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """The config file ``path`` with ``cfg_options`` (``--cfg-options``)
    merged in: how every tool reads its config."""
    if not osp.isfile(path):
        raise UserInputError(f'Config file {path} does not exist. Configs '
                             'live under configs/, e.g. '
                             'configs/yolact/yolact_r18_1xb8-12e_toy.py.')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def load_run_config(args) -> Config:
    """Load ``args.config`` for a run: launcher, ``--cfg-options`` and the
    work_dir (``--work-dir``, else the config's, else
    ``work_dirs/<config name>``), as MMDetection's tools do."""
    import os
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg: Config):
    """MMEngine's default Runner, or ``cfg.runner_type`` from the registry.

    A distributed launch on a machine without CUDA is prepared first (gloo,
    DDP of a CPU module; see :mod:`mmb2inst.utils.distributed`).
    """
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from .distributed import setup_cpu_distributed
    setup_cpu_distributed(cfg)
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
