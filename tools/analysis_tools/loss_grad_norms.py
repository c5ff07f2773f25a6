"""How hard does each loss pull on the shared features? The gradient norm
of every loss with respect to the FPN outputs (the features all heads read),
at initialisation and after training the config for a while.

    python tools/analysis_tools/loss_grad_norms.py CONFIG [--data-root DIR]
        [--train-iters 100] [--scales 640 800] [--batch-size 2]
        [--seed 0] [--checkpoint CKPT] [--cfg-options k=v ...]

The measurement batch is the first of the config's own training pipeline
(the same images at every stage); ``--scales`` replaces its resize by a
fixed one (shorter side S, longer side at most 1333, as COCO's test scale)
for each S, e.g. the ends of BlendMask's 640-800 multi-scale range. With
``--train-iters N`` the config then trains N iterations on ``--data-root``
with its own optimizer and schedule (``ablation/short_run.py`` beside this
tool) and the norms are measured again. For a model with a globally
supervised boundary basis, the unweighted terms of the boundary loss (BCE,
Dice, crisp) are measured as well.

Prints one markdown table per scale, and for the boundary loss the range of
the host's own losses it should sit in.
"""
import argparse
import copy
import tempfile
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.config import Config, DictAction

import mmb2inst  # noqa: F401
from mmb2inst.utils.run_checks import (build_runner, friendly_errors,
                                       load_config)

RESIZES = ('Resize', 'RandomResize', 'RandomChoiceResize')
HOST_LOSS_PREFIXES = ('loss_cls', 'loss_bbox', 'loss_centerness', 'loss_mask',
                      'loss_segm', 'loss_semantic')


def grad_norm(loss: torch.Tensor, tensors: Sequence[torch.Tensor]) -> float:
    """L2 norm of d loss / d tensors (tensors the loss does not reach count
    as zero)."""
    grads = torch.autograd.grad(
        loss, list(tensors), retain_graph=True, allow_unused=True)
    return float(
        torch.sqrt(sum((g.double()**2).sum() for g in grads if g is not None)))


def loss_grad_norms(model: torch.nn.Module,
                    data: dict,
                    wrt: str = 'features') -> Dict[str, tuple]:
    """``{name: (value, gradient norm)}`` of every loss of ``model`` on the
    preprocessed batch ``data``, plus ``boundary/<term>`` for the unweighted
    terms of a globally supervised boundary loss.

    ``wrt='features'``: the norm of the gradient with respect to the neck's
    outputs (the features the heads share); ``'params'``: with respect to
    all trainable parameters.
    """
    model.train()
    boundary = getattr(getattr(model, 'mask_head', None), 'boundary', None)
    captured = {}
    hooks = [
        model.neck.register_forward_hook(
            lambda module, args, out: captured.update(feats=out))
    ]
    if boundary is not None and boundary.supervision == 'global':
        # BoundaryBasis.forward returns (basis features, boundary logits)
        hooks.append(
            boundary.register_forward_hook(
                lambda module, args, out: captured.update(logits=out[1])))
    try:
        losses = model.loss(data['inputs'], data['data_samples'])
    finally:
        for hook in hooks:
            hook.remove()
    if wrt == 'features':
        tensors = list(captured['feats'])
    else:
        tensors = [p for p in model.parameters() if p.requires_grad]
    out = {}
    for name, value in losses.items():
        if 'loss' not in name:
            continue
        if isinstance(value, (list, tuple)):  # per level or image, summed
            value = sum(value)  # as mmengine's parse_losses does
        out[name] = (float(value.detach()), grad_norm(value, tensors))
    if 'logits' in captured:
        logits = captured['logits']
        targets = boundary.get_global_targets(
            [s.gt_instances for s in data['data_samples']], logits.shape[-2:],
            logits.device)
        for term, value in boundary.loss_boundary.components(logits,
                                                             targets).items():
            out[f'boundary/{term}'] = (float(value.detach()),
                                       grad_norm(value, tensors))
    return out


def fixed_scale_pipeline(pipeline: List[dict], short: int) -> List[dict]:
    """``pipeline`` with its resize replaced by shorter side ``short``,
    longer side at most 1333, aspect ratio kept."""
    out = []
    for t in pipeline:
        if t['type'] in RESIZES:
            t = dict(type='Resize', scale=(1333, short), keep_ratio=True)
        out.append(t)
    return out


def measurement_batch(cfg: Config, batch_size: int, seed: int,
                      short: Optional[int]) -> dict:
    """The first ``batch_size`` training images through the training
    pipeline (at a fixed scale when ``short`` is given)."""
    from mmengine.runner import Runner, set_random_seed
    loader = copy.deepcopy(cfg.train_dataloader.to_dict())
    loader.update(
        batch_size=batch_size,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_sampler=None)
    if short is not None:
        dataset = loader['dataset']
        while 'dataset' in dataset:
            dataset = dataset['dataset']
        dataset['pipeline'] = fixed_scale_pipeline(dataset['pipeline'], short)
    set_random_seed(seed)  # the same augmentation every time
    batch = next(iter(Runner.build_dataloader(loader, seed=seed)))
    shapes = {tuple(img.shape[-2:]) for img in batch['inputs']}
    if len(shapes) > 1 and 'YOLACT' in cfg.model.type:
        from mmb2inst.errors import ConfigError
        raise ConfigError(
            f'the measurement batch has images of {len(shapes)} shapes '
            f'{sorted(shapes)}, and YOLACT\'s anchor targets need one shape '
            'per batch; measure with --batch-size 1 (or a scale the pipeline '
            'pads to a square)')
    return batch


def train_briefly(cfg: Config,
                  iters: int,
                  data_root: Optional[str],
                  seed: int,
                  batch_size: Optional[int] = None):
    """Train ``cfg`` for about ``iters`` iterations with its optimizer and
    schedule; the trained model and the iterations done."""
    from ablation.short_run import short_run_options
    cfg = copy.deepcopy(cfg)
    cfg.merge_from_dict(
        short_run_options(
            cfg, data_root, iters, seed, batch_size, validate=False))
    cfg.default_hooks.logger.interval = 10
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=10**9, save_last=False)
    cfg.work_dir = tempfile.mkdtemp(prefix='loss_grad_norms_')
    cfg.log_level = 'WARNING'  # the tables are the output
    runner = build_runner(cfg)  # the config's runner_type
    runner.train()
    return runner.model, runner.iter


def print_table(title: str, columns: List[str],
                stages: List[Dict[str, tuple]]) -> None:
    print(f'\n{title}\n')
    head = ' | '.join(f'{c} value | {c} grad norm' for c in columns)
    print(f'| loss | {head} |')
    print('| --- |' + ' --- | --- |' * len(columns))
    for name in stages[0]:
        cells = ' | '.join(
            f'{s[name][0]:.4g} | {s[name][1]:.4g}' if name in s else '- | -'
            for s in stages)
        print(f'| {name} | {cells} |')
    for column, stage in zip(columns, stages):
        host = [
            v[1] for k, v in stage.items() if k.startswith(HOST_LOSS_PREFIXES)
        ]
        if 'loss_boundary' in stage and host:
            bnd = stage['loss_boundary'][1]
            where = ('inside' if min(host) <= bnd <= max(host) else
                     f'{bnd / max(host):.3g}x the largest' if bnd > max(host)
                     else f'{bnd / min(host):.3g}x the smallest')
            print(f'\n{column}: loss_boundary gradient norm {bnd:.4g}; '
                  f'host losses {min(host):.4g}-{max(host):.4g} ({where}).')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument(
        '--data-root',
        help='dataset in the config\'s format (for the COCO configs, '
        'e.g. the synthetic set of make_synthetic_coco.py); default '
        "the config's")
    parser.add_argument(
        '--train-iters',
        type=int,
        default=0,
        help='train this many iterations, then measure again')
    parser.add_argument(
        '--scales',
        type=int,
        nargs='*',
        default=[],
        help='shorter sides to measure at; 0 is the training pipeline\'s '
        'own resize (the default)')
    parser.add_argument(
        '--batch-size', type=int, default=2, help='of the measurement batch')
    parser.add_argument(
        '--train-batch-size',
        type=int,
        help='of --train-iters (default: ablation/short_run.py\'s)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--wrt',
        choices=['features', 'params'],
        default='features',
        help='gradient w.r.t. the FPN outputs (default) or all parameters')
    parser.add_argument(
        '--checkpoint', help='start from these weights (default: fresh)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    args = parser.parse_args()
    with friendly_errors():
        from ablation.short_run import short_run_options
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
        from mmengine.runner import set_random_seed

        from mmb2inst.utils.checkpoint import load_detector

        register_all_modules(init_default_scope=True)
        from mmengine.logging import MMLogger

        # the tables are the output, not the initialisation log
        MMLogger.get_instance('loss_grad_norms', log_level='WARNING')
        cfg = load_config(args.config, args.cfg_options)
        if args.data_root:
            cfg.merge_from_dict({
                k: v
                for k, v in short_run_options(
                    cfg, args.data_root, validate=False).items()
                if k.endswith('data_root') or k == 'model.backbone.init_cfg'
            })
        set_random_seed(args.seed)
        if args.checkpoint:
            model = load_detector(cfg, args.checkpoint, args.config)
        else:
            model = MODELS.build(cfg.model)
            model.init_weights()
        scales = [s or None for s in args.scales] or [None]
        batches = {
            s: measurement_batch(cfg, args.batch_size, args.seed, s)
            for s in scales
        }

        def measure(net):
            return {
                s: loss_grad_norms(net, net.data_preprocessor(b, True),
                                   args.wrt)
                for s, b in batches.items()
            }

        stages = {'init' if not args.checkpoint else 'start': measure(model)}
        if args.train_iters:
            if args.checkpoint:
                cfg.load_from = args.checkpoint
            trained, done = train_briefly(cfg, args.train_iters,
                                          args.data_root, args.seed,
                                          args.train_batch_size)
            stages[f'after {done} it'] = measure(trained)
    wrt = 'FPN outputs' if args.wrt == 'features' else 'all parameters'
    print(f'{args.config}: gradient norms w.r.t. the {wrt}, batch of '
          f'{args.batch_size}, seed {args.seed}')
    for s in scales:
        shape = next(iter(batches[s]['inputs'])).shape
        title = (f'Scale: shorter side {s}' if s else
                 "Scale: the training pipeline's") + \
            f' (first image {shape[1]}x{shape[2]})'
        print_table(title, list(stages), [v[s] for v in stages.values()])


if __name__ == '__main__':
    main()
