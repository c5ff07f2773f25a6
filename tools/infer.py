"""Run a model on your images: pictures (ground truth-free: prediction |
boundary map) and predictions with B2Inst's scores.

    python tools/infer.py INPUT CONFIG CHECKPOINT [--out-dir outputs]
        [--score-thr 0.3] [--no-boundary] [--device cpu] [--batch-size 1]

INPUT is an image file or a folder of images. Written to --out-dir:
``vis/<image>`` (the picture), ``preds/<image>.json`` (labels, class scores,
boxes, RLE masks and, for B2Inst models, ``mask_scores`` (Eq. 2),
``iou_scores``, ``boundary_scores``), ``preds/<image>_boundary.png`` (the
holistic boundary map) and ``predictions.json`` (all images). A progress
bar shows how far it is.
"""
import argparse
import os
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
    # mmdet's DetInferencer builds its visualizer without a save_dir: the
    # local backend it cannot add is not used (the tool writes the files)
    warnings.filterwarnings(
        'ignore',
        message='Failed to add <class',
        category=UserWarning,
        module='mmengine.visualization.visualizer')

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('input', help='an image file or a folder of images')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out-dir', default='outputs')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='instances drawn above this class score')
    parser.add_argument(
        '--no-boundary',
        action='store_true',
        help='do not write the boundary maps')
    parser.add_argument('--device', default=None, help='cpu, cuda:0, ...')
    parser.add_argument('--batch-size', type=int, default=1)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmb2inst.utils.run_checks import UserInputError, friendly_errors
    with friendly_errors():
        for path in (args.config, args.checkpoint):
            if not osp.isfile(path):
                raise UserInputError(f'{path} does not exist.')
        if osp.isdir(args.input):
            images = [
                f for f in sorted(os.listdir(args.input))
                if f.lower().endswith(IMAGE_EXTS)
            ]
            if not images:
                raise UserInputError(
                    f'{args.input} holds no image ({", ".join(IMAGE_EXTS)}).')
        elif not osp.isfile(args.input):
            raise UserInputError(f'{args.input} does not exist.')
        import mmengine

        import mmb2inst  # noqa: F401
        from mmb2inst.apis import B2InstInferencer
        inferencer = B2InstInferencer(
            args.config, args.checkpoint, device=args.device)
        out = inferencer(
            args.input,
            batch_size=args.batch_size,
            out_dir=args.out_dir,
            no_save_pred=False,
            pred_score_thr=args.score_thr,
            return_boundary=not args.no_boundary)
        summary = osp.join(args.out_dir, 'predictions.json')
        mmengine.dump(out['predictions'], summary)
    num = len(out['predictions'])
    print(f'{num} image(s): pictures in {osp.join(args.out_dir, "vis")}, '
          f'predictions in {osp.join(args.out_dir, "preds")} and {summary}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
