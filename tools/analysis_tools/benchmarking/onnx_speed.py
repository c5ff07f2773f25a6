"""``benchmark.py onnx``: the exported graphs in onnxruntime against
``model.predict``, round-robin on the same image."""
import os.path as osp
import tempfile

from .timing import build, interleaved_times, ratio_table

ONNX_CONFIGS = [
    'configs/yolact/yolact_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py',
    'configs/blendmask/blendmask_r18_1xb8-12e_toy.py',
    'configs/b2inst_blendmask/b2inst-blendmask_r18_1xb8-12e_toy.py',
]


def onnx_speed(args) -> None:
    import copy

    import torch
    from mmdet.testing import demo_mm_inputs

    from mmb2inst.deploy import OnnxDetector, export
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    print(f'onnxruntime vs PyTorch, {threads} threads, {args.reps} '
          'repetitions, batch 1')
    print('\n| model | input | detections | PyTorch s / image | '
          'onnxruntime s / image | time ratio onnxruntime / PyTorch |')
    print('| --- | --- | --- | --- | --- | --- |')
    for config in args.configs:
        model = build(config)
        model.bbox_head.test_cfg.max_per_img = 100
        size = 128 if config.endswith('_toy.py') else 800
        with tempfile.TemporaryDirectory() as out:
            export(model, out, (size, size))
            detector = OnnxDetector(model, out, threads=threads)
            torch.manual_seed(1)
            data = model.data_preprocessor(
                demo_mm_inputs(
                    1, [[3, size, size]],
                    num_classes=model.bbox_head.num_classes), False)

            def pytorch():
                with torch.no_grad():
                    return model.predict(data['inputs'],
                                         copy.deepcopy(data['data_samples']))

            def ort():
                return detector.predict(data['inputs'],
                                        copy.deepcopy(data['data_samples']))

            dets = len(ort()[0].pred_instances)
            times = interleaved_times([pytorch, ort], args.reps, args.warmup)
        table = ratio_table(['pytorch', 'ort'], times)
        name = osp.splitext(osp.basename(config))[0]
        print(f'| {name} | {size}x{size} | {dets} | '
              f'{table["pytorch"][0]:.4f} | {table["ort"][0]:.4f} | '
              f'{table["ort"][1]:.3f} |')
