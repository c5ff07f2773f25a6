"""How hard does each loss pull on the network? Gradient norm of every loss
of a freshly initialised model (or of a checkpoint) on one training batch.

    python tools/loss_grad_norms.py CONFIG [--checkpoint CKPT]
        [--batch-size 8] [--seed 0] [--cfg-options k=v ...]

The batch is the first of the config's own training data loader (seeded,
so the same for every config with the same dataset). For each loss the
model returns, the L2 norm of its gradient over all trainable parameters is
printed, then, for a model with a globally supervised holistic boundary
basis, the same for the unweighted terms of the boundary loss (BCE, Dice and
the crisp-boundary term of Deng et al.). A loss whose gradient dwarfs the
others' at the start of training steers the shared features (and, with
gradient clipping, shrinks every other loss's step).
"""
import argparse
from typing import Dict, List

import _source_checkout  # noqa: F401  (before mmb2inst)
import torch
from mmengine.config import Config, DictAction

import mmb2inst  # noqa: F401
from mmb2inst.utils.run_checks import friendly_errors


def grad_norm(loss: torch.Tensor, params: List[torch.nn.Parameter]) -> float:
    """L2 norm of d loss / d params (parameters the loss does not reach
    count as zero)."""
    grads = torch.autograd.grad(
        loss, params, retain_graph=True, allow_unused=True)
    return float(
        torch.sqrt(sum((g.double()**2).sum() for g in grads if g is not None)))


def loss_grad_norms(model: torch.nn.Module, data: dict) -> Dict[str, tuple]:
    """``{name: (value, gradient norm)}`` of every loss of ``model`` on the
    preprocessed batch ``data``, plus ``boundary/<term>`` for the unweighted
    terms of a globally supervised boundary loss."""
    model.train()
    boundary = getattr(getattr(model, 'mask_head', None), 'boundary', None)
    captured = {}
    hook = None
    if boundary is not None and boundary.supervision == 'global':
        hook = boundary.boundary_pred.register_forward_hook(
            lambda module, args, out: captured.update(logits=out))
    try:
        losses = model.loss(data['inputs'], data['data_samples'])
    finally:
        if hook is not None:
            hook.remove()
    params = [p for p in model.parameters() if p.requires_grad]
    out = {}
    for name, value in losses.items():
        if 'loss' not in name:
            continue
        if isinstance(value, (list, tuple)):  # per level or image, summed
            value = sum(value)  # as mmengine's parse_losses does
        out[name] = (float(value.detach()), grad_norm(value, params))
    if 'logits' in captured:
        logits = captured['logits']
        targets = boundary.get_global_targets(
            [s.gt_instances for s in data['data_samples']], logits.shape[-2:],
            logits.device)
        for term, value in boundary.loss_boundary.components(logits,
                                                             targets).items():
            out[f'boundary/{term}'] = (float(value.detach()),
                                       grad_norm(value, params))
    return out


def first_batch(cfg: Config, batch_size: int, seed: int) -> list:
    from mmengine.runner import Runner
    loader_cfg = cfg.train_dataloader
    loader_cfg.update(
        batch_size=batch_size, num_workers=0, persistent_workers=False)
    return next(iter(Runner.build_dataloader(loader_cfg.to_dict(), seed=seed)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument(
        '--checkpoint', help='weights to load (default: fresh init)')
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    args = parser.parse_args()
    with friendly_errors():
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
        from mmengine.runner import set_random_seed

        from mmb2inst.utils.checkpoint import load_detector

        register_all_modules(init_default_scope=True)
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        set_random_seed(args.seed)
        if args.checkpoint:
            model = load_detector(cfg, args.checkpoint, args.config)
            weights = f'checkpoint {args.checkpoint}'
        else:
            model = MODELS.build(cfg.model)
            model.init_weights()
            weights = f'fresh init, seed {args.seed}'
        data = model.data_preprocessor(
            first_batch(cfg, args.batch_size, args.seed), True)
        norms = loss_grad_norms(model, data)
    print(f'{args.config}, batch of {args.batch_size}, {weights}')
    print('\n| loss | value | gradient norm |\n| --- | --- | --- |')
    for name, (value, norm) in norms.items():
        print(f'| {name} | {value:.4g} | {norm:.4g} |')


if __name__ == '__main__':
    main()
