"""Train a model of mmb2inst (or any MMDetection config).

Used by ``mim train mmb2inst CONFIG [args]`` and directly as
``python tools/train.py CONFIG [args]``. Same arguments as MMDetection's
``tools/train.py``; in addition it checks its input before MMEngine's runner
starts (dataset on disk, known module types, a checkpoint that fits the
model, no earlier run overwritten) and reports bad input in one message.
"""
import argparse
import os.path as osp

import _source_checkout  # noqa: F401  (before mmb2inst)
from mmengine.config import Config
from mmengine.runner import find_latest_checkpoint

import mmb2inst  # noqa: F401  (registers modules, checkpoint loading)
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


def load_config(args) -> Config:
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
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise UserInputError(f'--resume {args.resume}: no such '
                                 'checkpoint file.')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main():
    args = parse_args()
    cfg = None
    with friendly_errors():
        cfg = load_config(args)
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
        if resume_from and osp.isfile(resume_from):
            check_checkpoint_matches(runner.model, resume_from, args.config)
        runner.train()


if __name__ == '__main__':
    main()
