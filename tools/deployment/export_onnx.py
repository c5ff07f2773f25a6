"""Export a YOLACT, BlendMask or B2Inst checkpoint to ONNX and check the
graphs against PyTorch with onnxruntime.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out-dir DIR
        [--shape 128 128] [--check IMAGE ...] [--force]

Writes ``DIR/network.onnx`` (image -> dense outputs, bases, boundary map),
``DIR/instances.onnx`` (detections -> masks, S_IoU, S_boundary) and
``DIR/config.py``; what runs where is in ``mmb2inst/deploy/onnx.py``. The
input height and width are dynamic (multiples of the config's padding);
the batch is one image. Then, on each --check image (default: the first
image of the config's test set), it compares onnxruntime with PyTorch: the
largest differences of the graphs' outputs, and whether the end-to-end
detections are the same. Refuses an unsupported model or option, and
existing files without --force, before writing anything.
"""
import argparse
import copy
import os.path as osp
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        default=None,
        help='input height and width to trace with (default: the test '
        'pipeline\'s resize, else 128 128); any other size runs too')
    parser.add_argument('--check', nargs='*', help='images to check with')
    parser.add_argument('--force', action='store_true')
    return parser.parse_args(argv)


def preprocess(model, cfg, image: str):
    """The config's test pipeline and the model's preprocessor on one
    image, as inference_detector does."""
    from mmcv.transforms import Compose
    from mmengine.dataset import pseudo_collate
    pipeline = copy.deepcopy(cfg.test_dataloader.dataset.pipeline)
    pipeline = [t for t in pipeline if t['type'] != 'LoadAnnotations']
    data = Compose(pipeline)(dict(img_path=image, img_id=0))
    return model.data_preprocessor(pseudo_collate([data]), False)


def same_detections(a, b, atol=1e-3) -> bool:
    import torch
    return (len(a) == len(b) and torch.equal(a.labels, b.labels)
            and torch.allclose(a.bboxes, b.bboxes, atol=atol)
            and torch.allclose(a.scores, b.scores, atol=atol))


def main(argv=None):
    args = parse_args(argv)
    from mmb2inst.utils.run_checks import (UserInputError, friendly_errors,
                                           load_config)
    with friendly_errors():
        for path in (args.config, args.checkpoint, *(args.check or [])):
            if not osp.isfile(path):
                raise UserInputError(f'{path} does not exist.')
        import torch

        import mmb2inst  # noqa: F401
        from mmb2inst.deploy import OnnxDetector, check_exportable, export
        from mmb2inst.utils.checkpoint import load_detector
        cfg = load_config(args.config)
        model = load_detector(cfg, args.checkpoint, args.config).cpu().eval()
        check_exportable(model)
        shape = args.shape or _test_shape(cfg)
        paths = export(model, args.out_dir, tuple(shape), force=args.force)
        cfg.dump(osp.join(args.out_dir, 'config.py'))
        print(f'written: {paths["network"]}, {paths["instances"]}, '
              f'{osp.join(args.out_dir, "config.py")}')
        images = args.check or [_first_test_image(cfg)]
        detector = OnnxDetector(model, args.out_dir)
        ok = True
        for image in images:
            data = preprocess(model, cfg, image)
            diff = compare_with_pytorch(model, detector, data['inputs'],
                                        data['data_samples'])
            with torch.no_grad():
                ref = model.predict(data['inputs'],
                                    copy.deepcopy(data['data_samples']))[0]
            got = detector.predict(data['inputs'],
                                   copy.deepcopy(data['data_samples']))[0]
            same = same_detections(ref.pred_instances, got.pred_instances)
            ok &= same and all(
                diff.get(k, 0.) <= 1e-3
                for k in ('mask_probs', 'iou_scores', 'boundary_scores'))
            size = tuple(data['inputs'].shape[-2:])
            print(f'{osp.basename(image)}: input {size}, '
                  f'{len(got.pred_instances)} detections, same as PyTorch: '
                  f'{same}; largest '
                  'differences: ' +
                  ', '.join(f'{k} {v:.2g}'
                            for k, v in diff.items() if k != 'num_detections'))
    return 0 if ok else 1


def compare_with_pytorch(model, detector, inputs, data_samples) -> dict:
    """Largest differences between the exported graphs in onnxruntime and
    the PyTorch modules they were traced from, on one preprocessed image:
    ``network`` (every dense output, relative to its largest magnitude) and,
    fed PyTorch's own detections, ``mask_probs``, ``iou_scores`` and
    ``boundary_scores`` (absolute)."""
    import torch

    from mmb2inst.deploy.onnx import (InstanceGraph, NetworkGraph,
                                      instance_feed, scorer_levels)
    model = model.cpu().eval()
    with torch.no_grad():
        torch_out = NetworkGraph(model)(inputs)
        ort_out = detector._run_network(inputs)
        diff = dict(
            network=max(
                float((o - ort_out[n]).abs().max() /
                      o.abs().max().clamp(min=1e-12))
                for n, o in zip(detector.names, torch_out)))
        sample = model.predict(inputs, copy.deepcopy(data_samples))[0]
        pred = sample.pred_instances
        # the detections before rescaling, as the instance graph sees them
        metas = [s.metainfo for s in data_samples]
        head = model.bbox_head
        feats = model.extract_feat(inputs)
        results = head.predict(
            feats, copy.deepcopy(data_samples), rescale=False)[0]
        names = detector.names
        bases = torch_out[names.index('bases')]
        fpn = [
            torch_out[names.index(f'feat_{i}')]
            for i in range(scorer_levels(model))
        ]
        feed = instance_feed(detector.host, results, bases, fpn, metas[0])
        params = feed['params']
        graph = InstanceGraph(model)
        expected = graph(bases, params, feed['rois'], feed['proto_rois'], *fpn)
        got = detector._run_instances(feed)
    keys = ['mask_probs', 'iou_scores', 'boundary_scores'][:len(expected)]
    for key, e, g in zip(keys, expected, got):
        diff[key] = float((e - g).abs().max()) if e.numel() else 0.
    diff['num_detections'] = len(pred)
    return diff


def _test_shape(cfg):
    for t in cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'Resize' and not t.get('keep_ratio', False):
            w, h = t['scale']
            return [h, w]
    return [128, 128]


def _first_test_image(cfg) -> str:
    from mmdet.registry import DATASETS
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    return dataset.get_data_info(0)['img_path']


if __name__ == '__main__':
    sys.exit(main())
