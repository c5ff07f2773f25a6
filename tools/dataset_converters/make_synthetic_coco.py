# Copyright (c) mmb2inst contributors. All rights reserved.
r"""Write the synthetic COCO-format set that the COCO configs run on where
COCO cannot be downloaded (tests, install check, gradient-norm benchmark).

Example::

    python tools/make_synthetic_coco.py data/coco_synthetic
    mim train mmb2inst blendmask_r50_1x_coco.py --cfg-options \
        train_dataloader.dataset.data_root=data/coco_synthetic/ ...

COCO's layout, 80 category ids and names, polygons of several parts,
crowd RLEs, several image sizes, a grayscale image, images without
annotations and three unusable annotations (mmb2inst.datasets.synthetic_coco).
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _load_generator():
    """The generator module, without importing torch and mmdet from a source
    checkout (see tools/make_toy_dataset.py)."""
    src = osp.join(ROOT, 'mmb2inst', 'datasets', 'synthetic_coco.py')
    if not osp.isfile(src):
        from mmb2inst.datasets import synthetic_coco
        return synthetic_coco
    spec = importlib.util.spec_from_file_location('_synthetic_coco', src)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', help='dataset root to write')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--force',
        action='store_true',
        help='overwrite a synthetic set already there')
    args = parser.parse_args(argv)
    ann = osp.join(args.out_dir, 'annotations', 'instances_train2017.json')
    if osp.exists(ann) and not args.force:
        print(
            f'error: {args.out_dir} already holds a COCO-format set; '
            'pass --force to overwrite it.',
            file=sys.stderr)
        return 1
    if osp.exists(ann):
        with open(ann) as f:
            if 'mmb2inst synthetic' not in f.read(300):
                print(
                    f'error: {ann} is not a synthetic set of mmb2inst; '
                    'refusing to overwrite it even with --force.',
                    file=sys.stderr)
                return 1
    os.makedirs(args.out_dir, exist_ok=True)
    summary = _load_generator().generate_synthetic_coco(
        args.out_dir, seed=args.seed)
    print(f'synthetic COCO-format set written to {args.out_dir}: '
          f"{summary['num_images']} images, {summary['num_annotations']} "
          'annotations; unusable annotations planted in train (ids): '
          f"{summary['bad_annotation_ids']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
