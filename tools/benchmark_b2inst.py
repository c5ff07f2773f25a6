"""Speed of B2Inst-YOLACT against mmdet's YOLACT, measured side by side.

    python tools/benchmark_b2inst.py [--preset coco|toy] [--reps 20]

Both models are built from their configs (random weights; B2Inst gets
YOLACT's weights wherever the shapes agree, so both keep the same detections
and the mask assembly does the same work), then timed alternately in one
process on the same inputs:

* inference: ``model.predict`` on one image (batch 1);
* training step: forward + backward + SGD step on a batch of 2;
* boundary targets: B2Inst's image-level boundary ground truth for that
  batch, as a share of B2Inst's training step.

Reported as medians and ratios: absolute times on shared CPUs are noisy,
ratios measured in one run are what to compare.
"""

import argparse
import math
import statistics

import _source_checkout  # noqa: F401  (before mmb2inst)
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.config import Config
from torch.utils.flop_counter import FlopCounterMode

import mmb2inst  # noqa: F401
from mmb2inst.utils.benchmark import copy_shared_weights, timed

PRESETS = dict(
    coco=('configs/yolact/yolact_r50_1xb8-55e_coco.py',
          'configs/b2inst_yolact/b2inst-yolact_r50_1xb8-55e_coco.py', 550, 80),
    toy=('configs/yolact/yolact_r18_1xb8-12e_toy.py',
         'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py', 128, 5))


def build(path):
    model = MODELS.build(Config.fromfile(path).model)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', choices=list(PRESETS), default='coco')
    parser.add_argument('--reps', type=int, default=20)
    parser.add_argument(
        '--train-reps',
        type=int,
        default=None,
        help='repetitions of the (slow) train step; default: --reps')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument(
        '--instances',
        type=int,
        default=8,
        help='GT instances per training image')
    parser.add_argument('--threads', type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules()
    cfg_a, cfg_b, size, num_classes = PRESETS[args.preset]
    torch.manual_seed(0)
    yolact, b2inst = build(cfg_a), build(cfg_b)
    # Random weights score every class near 1/(C+1), under the configs'
    # score_thr: keep every candidate so that inference also assembles and
    # pastes masks (up to max_per_img), as a trained model does.
    for model in (yolact, b2inst):
        model.bbox_head.test_cfg.score_thr = 0.0
    n_shared, n_total = copy_shared_weights(yolact, b2inst)
    print(f'preset {args.preset}: {size}x{size}, {torch.get_num_threads()} '
          f'threads; B2Inst got {n_shared}/{n_total} tensors from YOLACT')

    torch.manual_seed(1)
    test_data = yolact.data_preprocessor(
        demo_mm_inputs(1, [[3, size, size]], num_classes=num_classes), False)
    train_data = yolact.data_preprocessor(
        demo_mm_inputs(
            2, [[3, size, size]] * 2,
            num_items=[args.instances] * 2,
            num_classes=num_classes,
            with_mask=True), True)

    def predict(model):
        model.eval()
        with torch.no_grad():
            return model.predict(test_data['inputs'],
                                 test_data['data_samples'])

    optims = {
        id(m): torch.optim.SGD(m.parameters(), lr=1e-5)
        for m in (yolact, b2inst)
    }

    def train_step(model):
        model.train()
        losses = model.loss(train_data['inputs'], train_data['data_samples'])
        loss, _ = model.parse_losses(losses)
        optims[id(model)].zero_grad()
        loss.backward()
        optims[id(model)].step()

    boundary = b2inst.mask_head.boundary
    gts = [s.gt_instances for s in train_data['data_samples']]
    # prototypes: P3 (stride 8, rounded up) upsampled x2
    map_size = (math.ceil(size / 8) * 2, ) * 2

    def targets():
        with torch.no_grad():
            boundary.get_global_targets(gts, map_size, 'cpu')

    # FLOPs do not depend on the machine's load: a noise-free companion to
    # the timings (convolutions and matmuls, as torch counts them).
    flops = []
    for model in (yolact, b2inst):
        with FlopCounterMode(display=False) as counter:
            predict(model)
        flops.append(counter.get_total_flops() / 1e9)
    print(f'inference GFLOPs: YOLACT {flops[0]:.2f}, B2Inst-YOLACT '
          f'{flops[1]:.2f} (ratio {flops[1] / flops[0]:.4f})')

    n_a = len(predict(yolact)[0].pred_instances)
    n_b = len(predict(b2inst)[0].pred_instances)
    print(f'detections per image: YOLACT {n_a}, B2Inst-YOLACT {n_b}')

    rows = {}
    measures = [('inference (batch 1)', lambda: predict(yolact),
                 lambda: predict(b2inst), args.reps),
                ('train step (batch 2)', lambda: train_step(yolact),
                 lambda: train_step(b2inst), args.train_reps or args.reps)]
    for name, fn_a, fn_b, reps in measures:
        for _ in range(args.warmup):
            fn_a(), fn_b()
        a, b = [], []
        for _ in range(reps):
            a.append(timed(fn_a))
            b.append(timed(fn_b))
        rows[name] = (statistics.median(a), statistics.median(b),
                      statistics.median(y / x for x, y in zip(a, b)))
    for _ in range(args.warmup):
        targets()
    t_targets = statistics.median(timed(targets) for _ in range(args.reps))

    print('\n| measure | YOLACT (s) | B2Inst-YOLACT (s) | ratio |')
    print('| --- | --- | --- | --- |')
    for name, (a, b, ratio) in rows.items():
        print(f'| {name} | {a:.4f} | {b:.4f} | {ratio:.3f} |')
    step = rows['train step (batch 2)'][1]
    print(f'\nboundary targets for the batch: {t_targets * 1e3:.2f} ms = '
          f'{100 * t_targets / step:.2f}% of a B2Inst-YOLACT train step')
    infer = rows['inference (batch 1)'][2]
    print(f'inference overhead: {100 * (infer - 1):+.1f}% '
          f'(target <= 3%)')


if __name__ == '__main__':
    main()
