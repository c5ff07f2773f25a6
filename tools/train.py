"""Train a model of mmb2inst (or any MMDetection config).

Used by ``mim train mmb2inst CONFIG [args]``, by ``tools/dist_train.sh`` and
``tools/slurm_train.sh``, and directly as ``python tools/train.py CONFIG
[args]``. Same arguments as MMDetection's ``tools/train.py``; in addition it
checks its input before MMEngine's runner starts (dataset on disk, known
module types, a checkpoint that fits the model, no earlier run overwritten)
and reports bad input in one message, says where a resumed run picks up, and
runs ``--launcher pytorch`` on machines without CUDA (gloo, DDP of the CPU
model; :mod:`mmb2inst.utils.distributed`).
"""
import argparse
import os.path as osp
import sys
import warnings

if not sys.warnoptions:  # unless -W or PYTHONWARNINGS say otherwise
    # Notices of the third-party stack that a user cannot act on, each
    # matched by its message: setuptools' deprecation of pkg_resources
    # (imported by mmengine and mmcv), torch's about mmdet's point generator
    # calling meshgrid without ``indexing``, and mmengine's visualizer when
    # a predicted box or mask reaches past the image (it is drawn clipped).
    warnings.filterwarnings(
        'ignore', message='pkg_resources is deprecated', category=UserWarning)
    warnings.filterwarnings(
        'ignore', message='torch.meshgrid', category=UserWarning)
    warnings.filterwarnings(
        'ignore',
        message=r'Warning: The \w+ is out of bounds',
        category=UserWarning,
        module='mmengine.visualization.visualizer')

from mmengine.config import Config
from mmengine.runner import find_latest_checkpoint

import mmb2inst  # noqa: F401  (registers modules)
from mmb2inst.utils.checkpoint import check_checkpoint_matches
from mmb2inst.utils.run_checks import (UserInputError, add_runner_args,
                                       build_runner, check_datasets,
                                       friendly_errors, load_run_config,
                                       protect_work_dir)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the total batch size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or (no value) from the latest '
        'checkpoint in the work_dir')
    add_runner_args(parser)
    return parser.parse_args()


def train_config(args) -> Config:
    cfg = load_run_config(args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise UserInputError('--auto-scale-lr needs auto_scale_lr = '
                                 'dict(base_batch_size=...) in the config.')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        # The latest checkpoint of the work_dir; without one, a new run
        # (initialised from the config's load_from, if any).
        latest = find_latest_checkpoint(cfg.work_dir) if osp.isdir(
            cfg.work_dir) else None
        if latest is not None or not cfg.get('load_from'):
            cfg.resume = True
            cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise UserInputError(f'--resume {args.resume}: no such '
                                 'checkpoint file.')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def report_resume(runner, ckpt_path: str, meta: dict) -> None:
    """Say where training picks up (rank 0 and the log file)."""
    epoch, it = meta.get('epoch', 0), meta.get('iter', 0)
    loop = runner.cfg.get('train_cfg', {})
    if 'max_epochs' in loop:
        rest = f'training continues with epoch {epoch + 1} of ' \
            f'{loop["max_epochs"]}'
    else:
        rest = f'training continues to iteration {loop.get("max_iters")}'
    runner.logger.info(f'mmb2inst: resuming from {ckpt_path}, epoch {epoch} '
                       f'(iteration {it}); {rest}.')


def main():
    args = parse_args()
    cfg = None
    with friendly_errors():
        cfg = train_config(args)
    with friendly_errors(cfg):
        check_datasets(cfg, ['train_dataloader', 'val_dataloader'])
        protect_work_dir(cfg.work_dir, cfg.get('resume', False),
                         cfg.get('load_from'))
        if cfg.get('load_from') and not osp.isfile(cfg.load_from) \
                and '://' not in cfg.load_from:
            raise UserInputError(f'load_from={cfg.load_from}: no such '
                                 'checkpoint file.')
        runner = build_runner(cfg)
        resume_from = cfg.get('load_from')
        if cfg.get('resume') and not resume_from:
            resume_from = find_latest_checkpoint(cfg.work_dir)
            if resume_from is None:
                runner.logger.info(
                    f'mmb2inst: --resume: no checkpoint in {cfg.work_dir}; '
                    'starting a new run.')
        if resume_from and osp.isfile(resume_from):
            # Initialising from a checkpoint (not resuming) may add modules
            # it has no weights for, e.g. a scorer on a trained B2Inst model.
            ckpt = check_checkpoint_matches(
                runner.model,
                resume_from,
                args.config,
                allow_missing=not cfg.get('resume'))
            if cfg.get('resume'):
                report_resume(runner, resume_from, ckpt.get('meta', {}))
        runner.train()


if __name__ == '__main__':
    main()
