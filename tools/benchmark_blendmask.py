"""Speed of BlendMask against mmdet's CondInst and Mask R-CNN, and of
B2Inst-BlendMask against BlendMask, measured side by side.

    python tools/benchmark_blendmask.py [--size 800 1088] [--reps 5]
        [--b2inst CONFIG ...]

All models are R-50 FPN COCO configs with random weights (no download),
timed round-robin in one process on the same 800x1088 image (batch 1,
``model.predict``, masks pasted at the image size). Every model keeps its
top 100 detections (score threshold 0), as a trained model on a COCO image
roughly does, so mask assembly and pasting cost what they cost in practice.
B2Inst variants get BlendMask's weights wherever shapes agree (same
detections). Reported: GFLOPs (load-independent), median seconds and the
median per-repetition ratio to BlendMask: absolute times on shared CPUs are
noisy; ratios measured in one run are what to compare.
"""
import argparse
import os.path as osp

import _source_checkout  # noqa: F401  (before mmb2inst)
import mmdet
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.config import Config

import mmb2inst  # noqa: F401
from mmb2inst.utils.benchmark import (copy_shared_weights, gflops,
                                      interleaved_times, ratio_table)

BLENDMASK = 'configs/blendmask/blendmask_r50_1x_coco.py'
REFERENCES = {
    'CondInst (mmdet)':
    'mmdet::condinst/condinst_r50_fpn_ms-poly-90k_coco_instance.py',
    'Mask R-CNN (mmdet)': 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
}
B2INST = [
    'configs/b2inst_blendmask/b2inst-blendmask_design-e_r50_1x_coco.py',
    'configs/b2inst_blendmask/b2inst-blendmask_r50_1x_coco.py',
    'configs/b2inst_blendmask/b2inst-blendmask_msrcnn-scorer_r50_1x_coco.py',
]


def build(path: str):
    if path.startswith('mmdet::'):
        path = osp.join(
            osp.dirname(mmdet.__file__), '.mim', 'configs',
            path[len('mmdet::'):])
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    # Keep the top 100 candidates whatever their (random) scores.
    test_cfg = model.test_cfg
    for key in ('rcnn', None):
        sub = test_cfg.get(key) if key else test_cfg
        if sub is not None and 'score_thr' in sub:
            sub.score_thr = 0.
    for head in ('bbox_head', 'roi_head'):
        head = getattr(model, head, None)
        cfg_ = getattr(head, 'test_cfg', None)
        if cfg_ is not None and 'score_thr' in cfg_:
            cfg_.score_thr = 0.
    return model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, nargs=2, default=[800, 1088])
    parser.add_argument('--reps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument(
        '--b2inst',
        nargs='+',
        default=B2INST,
        help='B2Inst-BlendMask configs compared with BlendMask')
    parser.add_argument(
        '--no-references',
        action='store_true',
        help='skip CondInst and Mask R-CNN')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules()
    torch.manual_seed(0)
    names, models = ['BlendMask'], [build(BLENDMASK)]
    if not args.no_references:
        for name, path in REFERENCES.items():
            names.append(name)
            models.append(build(path))
    for path in args.b2inst:
        model = build(path)
        copied, total = copy_shared_weights(models[0], model)
        names.append(path.split('/')[-1][:-3])
        models.append(model)
        print(f'{names[-1]}: {copied}/{total} tensors from BlendMask')

    h, w = args.size
    torch.manual_seed(1)
    inputs = {}

    def predict(model):
        key = id(model.data_preprocessor)
        if key not in inputs:
            inputs[key] = model.data_preprocessor(
                demo_mm_inputs(1, [[3, h, w]], num_classes=80), False)
        data = inputs[key]
        with torch.no_grad():
            return model.predict(data['inputs'], data['data_samples'])

    print(f'{h}x{w}, batch 1, {torch.get_num_threads()} threads, '
          f'{args.reps} repetitions')
    flops = [gflops(lambda m=m: predict(m)) for m in models]
    dets = [len(predict(m)[0].pred_instances) for m in models]
    times = interleaved_times([lambda m=m: predict(m) for m in models],
                              args.reps, args.warmup)
    table = ratio_table(names, times)
    print('\n| model | detections | GFLOPs | GFLOPs ratio | s / image | '
          'time ratio to BlendMask |')
    print('| --- | --- | --- | --- | --- | --- |')
    for name, flop, det in zip(names, flops, dets):
        sec, ratio = table[name]
        print(f'| {name} | {det} | {flop:.1f} | {flop / flops[0]:.4f} | '
              f'{sec:.3f} | {ratio:.3f} |')
    for name in names[1:]:
        if name.startswith('b2inst'):
            print(f'{name}: inference overhead over BlendMask '
                  f'{100 * (table[name][1] - 1):+.1f}% (target <= 3%)')
    for name in REFERENCES:
        if name in table:
            print(f'BlendMask / {name} time: {1 / table[name][1]:.3f} '
                  '(target <= 1, i.e. no slower)')


if __name__ == '__main__':
    main()
