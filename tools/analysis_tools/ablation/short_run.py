"""Config overrides for short runs of a shipped config on a small dataset:
the smoke runs of the test suite, ``tools/analysis_tools/loss_grad_norms.py``
and the install check (``tools/misc/check_install.sh``, through this file's
command line, which prints the overrides as ``key=value`` lines:
``python short_run.py CONFIG [--data-root DIR] [--iters N]``). They change
only what a short run must change (data root, backbone initialisation, batch
size, iteration count, workers, seed, logging); the model, pipelines,
optimizer and schedule stay the config's.
"""
import argparse
import math
from typing import Optional

from mmengine.config import Config

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _dataset_key(cfg: Config, loader: str) -> str:
    key, dataset = f'{loader}.dataset', cfg[loader]['dataset']
    while 'dataset' in dataset:  # RepeatDataset & co.
        key, dataset = key + '.dataset', dataset['dataset']
    return key


def _num_train_images(cfg: Config, data_root: Optional[str]) -> int:
    """Images the training loader serves per epoch (empty ones filtered as
    the config filters them)."""
    from mmdet.registry import DATASETS
    dataset = Config(cfg.train_dataloader.to_dict()).dataset
    dataset.pipeline = []
    if data_root is not None:
        inner = dataset
        while 'dataset' in inner:
            inner = inner.dataset
        inner.data_root = data_root + '/'
    return len(DATASETS.build(dataset))


def short_run_options(cfg: Config,
                      data_root: Optional[str] = None,
                      iters: int = 10,
                      seed: int = 0,
                      batch_size: Optional[int] = None,
                      validate: bool = True) -> dict:
    """``--cfg-options`` (as a dict) for a short run of ``cfg``.

    Args:
        cfg (Config): The config.
        data_root (str, optional): A dataset in the config's own format
            (for the COCO configs: the synthetic COCO-format set). None
            keeps the config's.
        iters (int): At least this many training iterations: the loop's
            ``max_iters``, or enough epochs of an epoch-based loop.
        seed (int): ``randomness.seed``.
        batch_size (int, optional): Training batch size. Defaults to 1 for
            iteration-based configs (BlendMask's 800-1333 px COCO recipe:
            one image is the expensive part of a CPU run) and 4 for
            epoch-based ones (YOLACT at 550 px, the toy configs): a
            randomly initialised YOLACT's own losses jump 10-30x within
            ten SGD iterations at batch 2 (BN statistics of two images),
            and stay within 2x at batch 4; upstream trains it at 8.
        validate (bool): Validate (and test) on the same data root at the
            end; False turns validation off.

    Returns:
        dict: Keys and values for ``Config.merge_from_dict`` or
        ``--cfg-options``.
    """
    iter_based = cfg.train_cfg.get('type') == 'IterBasedTrainLoop'
    if batch_size is None:
        batch_size = 1 if iter_based else 4
    opts = {'model.backbone.init_cfg': None, 'randomness.seed': seed}
    for loader in LOADERS if validate else LOADERS[:1]:
        opts.update({
            f'{loader}.batch_size':
            batch_size if loader == LOADERS[0] else 1,
            f'{loader}.num_workers':
            0,
            f'{loader}.persistent_workers':
            False,
        })
        if data_root is not None:
            opts[f'{_dataset_key(cfg, loader)}.data_root'] = data_root + '/'
    if validate and data_root is not None:
        ann = f'{data_root}/annotations/instances_val2017.json'
        for split in ('val', 'test'):
            evaluators = cfg[f'{split}_evaluator']
            if isinstance(evaluators, dict):
                opts[f'{split}_evaluator.ann_file'] = ann
            else:
                for i in range(len(evaluators)):
                    opts[f'{split}_evaluator.{i}.ann_file'] = ann
    if iter_based:
        opts['train_cfg.max_iters'] = iters
        opts['train_cfg.val_interval'] = iters
    else:
        per_epoch = math.ceil(_num_train_images(cfg, data_root) / batch_size)
        epochs = math.ceil(iters / per_epoch)
        opts['train_cfg.max_epochs'] = epochs
        opts['train_cfg.val_interval'] = epochs
    if not validate:
        opts.update(val_cfg=None, val_dataloader=None, val_evaluator=None)
    opts['default_hooks.logger.interval'] = 1
    opts['log_processor.window_size'] = 1
    return opts


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description='print the --cfg-options of a short run of CONFIG')
    parser.add_argument('config')
    parser.add_argument('--data-root')
    parser.add_argument('--iters', type=int, default=10)
    args = parser.parse_args(argv)
    import mmb2inst  # noqa: F401  (the datasets an epoch count needs)
    opts = short_run_options(
        Config.fromfile(args.config), args.data_root, iters=args.iters)
    for key, value in opts.items():
        print(f'{key}={value}')


if __name__ == '__main__':
    main()
