"""``benchmark.py speed``: inference (and training-step) time of each host
and its B2Inst variants, side by side in one process."""
import math
import statistics

from . import scorer_stages
from .timing import (build, copy_shared_weights, gflops, interleaved_times,
                     ratio_table, timed)

HOSTS = dict(
    yolact=dict(
        coco=[('YOLACT', 'configs/yolact/yolact_r50_1xb8-55e_coco.py'),
              ('B2Inst-YOLACT, HBB',
               'configs/b2inst_yolact/b2inst-yolact_hbb_r50_1xb8-55e_coco.py'),
              ('B2Inst-YOLACT',
               'configs/b2inst_yolact/b2inst-yolact_r50_1xb8-55e_coco.py')],
        toy=[('YOLACT', 'configs/yolact/yolact_r18_1xb8-12e_toy.py'),
             ('B2Inst-YOLACT, HBB',
              'configs/b2inst_yolact/b2inst-yolact_hbb_r18_1xb8-12e_toy.py'),
             ('B2Inst-YOLACT',
              'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py')],
        size=dict(coco=(550, 550), toy=(128, 128))),
    blendmask=dict(
        coco=[('BlendMask', 'configs/blendmask/blendmask_r50_1x_coco.py'),
              ('B2Inst-BlendMask, HBB', 'configs/b2inst_blendmask/'
               'b2inst-blendmask_hbb_r50_1x_coco.py'),
              ('B2Inst-BlendMask',
               'configs/b2inst_blendmask/b2inst-blendmask_r50_1x_coco.py'),
              ("B2Inst-BlendMask, the paper's scorer",
               'configs/b2inst_blendmask/'
               'b2inst-blendmask_paper-scorer_r50_1x_coco.py')],
        toy=[('BlendMask', 'configs/blendmask/blendmask_r18_1xb8-12e_toy.py'),
             ('B2Inst-BlendMask, HBB', 'configs/b2inst_blendmask/'
              'b2inst-blendmask_hbb_r18_1xb8-12e_toy.py'),
             ('B2Inst-BlendMask', 'configs/b2inst_blendmask/'
              'b2inst-blendmask_r18_1xb8-12e_toy.py')],
        size=dict(coco=(800, 1088), toy=(128, 128))))
REFERENCES = [
    ('CondInst (mmdet)',
     'mmdet::condinst/condinst_r50_fpn_ms-poly-90k_coco_instance.py'),
    ('Mask R-CNN (mmdet)', 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'),
]


def speed(args) -> None:
    import torch
    from mmdet.testing import demo_mm_inputs

    if args.threads:
        torch.set_num_threads(args.threads)
    for host in args.host:
        spec = HOSTS[host]
        h, w = spec['size'][args.preset]
        entries = list(spec[args.preset])
        if args.references and host == 'blendmask' and args.preset == 'coco':
            entries[1:1] = REFERENCES
        torch.manual_seed(0)
        names, models = [], []
        for name, path in entries:
            model = build(path)
            if models and 'B2Inst' in name:
                copied, total = copy_shared_weights(models[0], model)
                print(f'{name}: {copied}/{total} tensors from {names[0]}')
            names.append(name)
            models.append(model)
        torch.manual_seed(1)
        num_classes = models[0].bbox_head.num_classes
        test_data = models[0].data_preprocessor(
            demo_mm_inputs(1, [[3, h, w]], num_classes=num_classes), False)
        inputs = {}

        def predict(model):
            # mmdet's references may preprocess differently
            key = id(model.data_preprocessor)
            if key not in inputs:
                inputs[key] = model.data_preprocessor(
                    demo_mm_inputs(1, [[3, h, w]], num_classes=num_classes),
                    False)
            data = inputs[key] if model is not models[0] else test_data
            with torch.no_grad():
                return model.predict(data['inputs'], data['data_samples'])

        print(f'\n{host}, {args.preset} preset: {h}x{w}, batch 1, '
              f'{torch.get_num_threads()} threads, {args.reps} repetitions')
        flops = [gflops(lambda m=m: predict(m)) for m in models]
        dets = [len(predict(m)[0].pred_instances) for m in models]
        times = interleaved_times([lambda m=m: predict(m) for m in models],
                                  args.reps, args.warmup)
        table = ratio_table(names, times)
        print(f'\n| model | detections | GFLOPs | GFLOPs ratio | s / image '
              f'| time ratio to {names[0]} |')
        print('| --- | --- | --- | --- | --- | --- |')
        for name, flop, det in zip(names, flops, dets):
            sec, ratio = table[name]
            print(f'| {name} | {det} | {flop:.1f} | {flop / flops[0]:.4f} | '
                  f'{sec:.3f} | {ratio:.3f} |')
        if args.breakdown:
            host_seconds = table[names[0]][0]
            print('\n' + scorer_stages.breakdown(names, models, predict,
                                                 host_seconds, args.reps))
        if args.train_reps:
            train_speed(models, names, h, w, num_classes, args)


def train_speed(models, names, h, w, num_classes, args) -> None:
    """Training-step times of the host and its B2Inst variants, and the
    holistic boundary targets' share of a step."""
    import torch
    from mmdet.testing import demo_mm_inputs

    keep = [i for i, n in enumerate(names) if 'mmdet' not in n]
    models = [models[i] for i in keep]
    names = [names[i] for i in keep]
    torch.manual_seed(2)
    data = models[0].data_preprocessor(
        demo_mm_inputs(
            2, [[3, h, w]] * 2,
            num_items=[8, 8],
            num_classes=num_classes,
            with_mask=True), True)
    optims = [torch.optim.SGD(m.parameters(), lr=1e-5) for m in models]

    def step(model, optim):
        model.train()
        loss, _ = model.parse_losses(
            model.loss(data['inputs'], data['data_samples']))
        optim.zero_grad()
        loss.backward()
        optim.step()

    times = interleaved_times(
        [lambda m=m, o=o: step(m, o) for m, o in zip(models, optims)],
        args.train_reps, 1)
    table = ratio_table(names, times)
    print('\n| model | train step (batch 2), s | ratio |\n| --- | --- | --- |')
    for name in names:
        print(f'| {name} | {table[name][0]:.3f} | {table[name][1]:.3f} |')
    boundary = getattr(models[-1].mask_head, 'boundary', None)
    if boundary is not None and boundary.supervision == 'global':
        gts = [s.gt_instances for s in data['data_samples']]
        size = (math.ceil(h / 8) * 2, math.ceil(w / 8) * 2)
        t = statistics.median(
            timed(lambda: boundary.get_global_targets(gts, size, 'cpu'))
            for _ in range(args.reps))
        print(f'\nholistic boundary targets of the batch: {1e3 * t:.2f} ms '
              f'= {100 * t / table[names[-1]][0]:.2f}% of a {names[-1]} '
              'training step')
