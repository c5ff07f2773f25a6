"""Test (evaluate) a checkpoint of mmb2inst (or any MMDetection config).

Used by ``mim test mmb2inst CONFIG --checkpoint CKPT [args]`` and directly as
``python tools/test.py CONFIG CKPT [args]``. Same arguments as MMDetection's
``tools/test.py`` (without TTA); in addition it checks that the checkpoint
exists and fits the model of the config, and that the dataset is on disk.
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

from mmdet.engine.hooks.utils import trigger_visualization_hook
from mmdet.evaluation import DumpDetResults
from mmengine.config import Config

import mmb2inst  # noqa: F401  (registers modules)
from mmb2inst.utils.checkpoint import check_checkpoint_matches
from mmb2inst.utils.run_checks import (UserInputError, add_runner_args,
                                       build_runner, check_datasets,
                                       friendly_errors, load_run_config)


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
    add_runner_args(parser)
    return parser.parse_args()


def test_config(args) -> Config:
    cfg = load_run_config(args)
    if not osp.isfile(args.checkpoint):
        raise UserInputError(
            f'Checkpoint {args.checkpoint} does not exist. Training writes '
            'them to work_dirs/<config name>/ (epoch_N.pth; '
            'last_checkpoint names the newest).')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise UserInputError(f'--out {args.out}: the dump file must end in '
                             '.pkl or .pickle.')
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    elif cfg.default_hooks.get('visualization') is not None:
        # A config's draw=True is for validation (every `interval`-th
        # batch); in a test mmdet's hook would draw every image into
        # vis_data (7x the time of a 2000-image toy test). A test draws
        # with --show-dir.
        cfg.default_hooks.visualization.draw = False
    return cfg


def main():
    args = parse_args()
    cfg = None
    with friendly_errors():
        cfg = test_config(args)
    with friendly_errors(cfg):
        check_datasets(cfg, ['test_dataloader'])
        runner = build_runner(cfg)
        check_checkpoint_matches(runner.model, args.checkpoint, args.config)
        if args.out is not None:
            runner.test_evaluator.metrics.append(
                DumpDetResults(out_file_path=args.out))
        runner.test()


if __name__ == '__main__':
    main()
