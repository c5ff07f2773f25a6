"""Test (evaluate) a checkpoint of mmb2inst (or any MMDetection config).

Used by ``mim test mmb2inst CONFIG --checkpoint CKPT [args]`` and directly as
``python tools/test.py CONFIG CKPT [args]``. Same arguments as MMDetection's
``tools/test.py`` (without TTA); in addition it checks that the checkpoint
exists and fits the model of the config, and that the dataset is on disk.
"""
import argparse
import os
import os.path as osp

import _source_checkout  # noqa: F401  (before mmb2inst)
from mmdet.engine.hooks.utils import trigger_visualization_hook
from mmdet.evaluation import DumpDetResults
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import mmb2inst  # noqa: F401  (registers modules, checkpoint loading)
from mmb2inst.utils.checkpoint import check_checkpoint_matches
from mmb2inst.utils.run_checks import (UserInputError, check_datasets,
                                       friendly_errors)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the dir to save the evaluation metrics')
    parser.add_argument(
        '--out', help='dump the predictions to this pickle file (.pkl)')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='save pictures of the predictions in this folder, under the '
        'timestamped folder of this run inside the work_dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(args) -> Config:
    if not osp.isfile(args.config):
        raise UserInputError(f'Config file {args.config} does not exist.')
    if not osp.isfile(args.checkpoint):
        raise UserInputError(
            f'Checkpoint {args.checkpoint} does not exist. Training writes '
            'them to work_dirs/<config name>/ (epoch_N.pth; '
            'last_checkpoint names the newest).')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise UserInputError(f'--out {args.out}: the dump file must end in '
                             '.pkl or .pickle.')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    return cfg


def main():
    args = parse_args()
    cfg = None
    with friendly_errors():
        cfg = load_config(args)
    with friendly_errors(cfg):
        check_datasets(cfg, ['test_dataloader'])
        if 'runner_type' not in cfg:
            runner = Runner.from_cfg(cfg)
        else:
            runner = RUNNERS.build(cfg)
        check_checkpoint_matches(runner.model, args.checkpoint, args.config)
        if args.out is not None:
            runner.test_evaluator.metrics.append(
                DumpDetResults(out_file_path=args.out))
        runner.test()


if __name__ == '__main__':
    main()
