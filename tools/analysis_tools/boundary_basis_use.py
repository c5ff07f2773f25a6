"""How much of its masks does a B2Inst-BlendMask take from the boundary basis?

    python tools/analysis_tools/boundary_basis_use.py CONFIG CHECKPOINT
        [--val-images N] [--drop] [--threads 1] [--out file.json]
        [--cfg-options key=value ...]

BlendMask's blender mixes the K + 1 bases of a detection (the K learned
ones and, last, the holistic boundary basis) with a softmax over its
attention logits, pixel by pixel. For every detection the model keeps at
test time the tool measures, over the R x R pixels of its mask:

* ``share``: the mean softmax weight of the boundary basis, 1 / (K + 1)
  where all logits are equal (at initialisation, where the attention layer
  outputs ~0), 0 when it is never used;
* ``contribution``: the boundary basis's part of the mask logit's
  magnitude, sum |w_b * B_b| / sum_k sum |w_k * B_k|.

Both are given over all kept detections and over those with a class score
>= 0.5. With ``--drop`` the test split is also evaluated with the boundary
basis taken out of the blend (the softmax over the K learned bases only,
which is the boundary logit at -inf; same boxes), beside the model as
trained, by the config's own evaluators: what the trained model loses
without the basis, or gains.

``--val-images N`` tests on the toy val split extended to N images (as
``tools/analysis_tools/toy_tables.py --val-images``; its first images are
the val split).
"""
import argparse
import json
import os.path as osp
import tempfile
from typing import Dict, List

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction

import mmb2inst  # noqa: F401
from mmb2inst.models.mask_heads.blender import blend, pool_bases
from mmb2inst.utils.run_checks import (UserInputError, build_runner,
                                       friendly_errors, load_config)

HIGH_SCORE = 0.5


def basis_use(pooled: torch.Tensor,
              attentions: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Per-instance share and contribution of the last basis in the blend.

    Args:
        pooled (Tensor): ``(N, K + 1, R, R)`` bases pooled in each box, the
            boundary basis last.
        attentions (Tensor): ``(N, K + 1, M, M)`` attention logits.

    Returns:
        dict: ``share`` and ``contribution``, ``(N,)`` each (see the module
        docstring).
    """
    size = pooled.shape[-2:]
    weights = F.interpolate(
        attentions, size, mode='bilinear', align_corners=False).softmax(1)
    terms = (weights * pooled).abs()
    return dict(
        share=weights[:, -1].mean((1, 2)),
        contribution=terms[:, -1].sum((1, 2)) / terms.sum(
            (1, 2, 3)).clamp(min=1e-12))


def summarize(values: List[float]) -> dict:
    """Mean and quartiles of ``values`` (None when there are none)."""
    if not values:
        return dict(n=0, mean=None, q25=None, median=None, q75=None)
    t = torch.tensor(values, dtype=torch.float64)
    q = torch.quantile(t, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64))
    return dict(
        n=len(values),
        mean=float(t.mean()),
        q25=float(q[0]),
        median=float(q[1]),
        q75=float(q[2]))


class Recorder:
    """Wraps a ``BlendMaskHead``'s inference to record :func:`basis_use` of
    every detection (with its class score) and, with ``drop``, to blend
    without the boundary basis."""

    def __init__(self, head, drop: bool = False) -> None:
        self.head = head
        self.drop = drop
        self.records = dict(share=[], contribution=[], score=[])
        self._scores: List[torch.Tensor] = []
        self._predict_by_feat = head.predict_by_feat
        head.predict_by_feat = self.predict_by_feat
        head.instance_probs = self.instance_probs

    def predict_by_feat(self, *args, results_list=None, **kwargs):
        self._scores = [r.scores for r in results_list]
        return self._predict_by_feat(
            *args, results_list=results_list, **kwargs)

    def instance_probs(self, bases, rois, param_preds):
        head = self.head
        pooled = pool_bases(bases, rois, head.pooler_size,
                            1. / head.basis_stride)
        attentions = head._attentions(param_preds)
        if self.drop:
            return blend(pooled[:, :-1], attentions[:, :-1]).sigmoid()
        scores = self._scores.pop(0)
        if pooled.shape[0]:
            use = basis_use(pooled, attentions)
            for key in ('share', 'contribution'):
                self.records[key] += use[key].tolist()
            self.records['score'] += scores.tolist()
        return blend(pooled, attentions).sigmoid()

    def report(self) -> dict:
        out = dict()
        high = [s >= HIGH_SCORE for s in self.records['score']]
        for key in ('share', 'contribution'):
            values = self.records[key]
            out[key] = summarize(values)
            out[f'{key}_score>={HIGH_SCORE}'] = summarize(
                [v for v, h in zip(values, high) if h])
        return out


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument(
        '--val-images',
        type=int,
        help='test on the toy val split extended to this many images')
    parser.add_argument(
        '--drop',
        action='store_true',
        help='also evaluate with the boundary basis taken out of the blend')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument(
        '--work-dir',
        help='for the runner\'s logs '
        '(default: a temporary folder)')
    parser.add_argument('--out', help='write the numbers to this json file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    return parser.parse_args()


def basis_use_config(args) -> Config:
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            raise UserInputError(f'{path} does not exist.')
    cfg = load_config(args.config)
    if args.val_images:
        from ablation.rows import ROOT
        from ablation.run_queue import eval_options, extended_val

        from mmb2inst.datasets import ensure_toy_dataset
        data_root, settings = extended_val(args.config, args.val_images)
        ensure_toy_dataset(osp.join(ROOT, data_root), settings)
        parser = argparse.ArgumentParser()
        parser.add_argument('--options', nargs='+', action=DictAction)
        cfg.merge_from_dict(
            parser.parse_args(
                ['--options',
                 *eval_options(args.config, data_root, settings)]).options)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.load_from = args.checkpoint
    cfg.work_dir = args.work_dir or tempfile.mkdtemp(prefix='basis_use_')
    cfg.launcher = 'none'
    if cfg.default_hooks.get('visualization') is not None:
        cfg.default_hooks.visualization.draw = False
    return cfg


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    with friendly_errors():
        cfg = basis_use_config(args)
        runner = build_runner(cfg)
        head = runner.model.mask_head
        boundary = getattr(head, 'boundary', None)
        if not hasattr(head, 'instance_probs') or boundary is None or \
                not boundary.use_as_basis:
            raise UserInputError(
                f'{args.config}: its mask head has no boundary basis in a '
                'blend (a B2Inst-BlendMask with model.mask_head.boundary and '
                'use_as_basis=True is needed).')
        recorder = Recorder(head)
        report = dict(
            config=args.config,
            checkpoint=args.checkpoint,
            num_bases=head.num_bases,
            uniform_share=1. / head.num_bases)
        report['as_trained'] = runner.test()
        report.update(recorder.report())
        if args.drop:
            recorder.drop = True
            report['without_boundary_basis'] = runner.test()
    print(json.dumps(report, indent=2))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
        print(f'written to {args.out}')


if __name__ == '__main__':
    main()
