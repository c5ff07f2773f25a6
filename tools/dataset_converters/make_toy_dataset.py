# Copyright (c) mmb2inst contributors. All rights reserved.
r"""Generate the seeded toy shapes instance-segmentation dataset.

Example::

    # the default set
    python tools/dataset_converters/make_toy_dataset.py data/toy_boundary
    python tools/dataset_converters/make_toy_dataset.py data/toy_big \
        --num-train 5000 --img-size 256 --seed 1
    python tools/dataset_converters/make_toy_dataset.py data/toy_hard \
        --preset hard
"""
import argparse
import importlib.util
import os
import os.path as osp
import shutil
import sys
import tempfile
import time


def _load_toy_shapes():
    """``mmb2inst/datasets/toy_shapes.py`` by itself: importing the
    ``mmb2inst`` package would pull in torch and mmdet (seconds of start-up)
    although the generator only needs numpy, cv2 and pycocotools."""
    package = importlib.util.find_spec('mmb2inst')  # not imported
    src = osp.join(osp.dirname(package.origin), 'datasets', 'toy_shapes.py')
    spec = importlib.util.spec_from_file_location('_mmb2inst_toy_shapes', src)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


toy_shapes = _load_toy_shapes()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the toy shapes COCO dataset.')
    parser.add_argument('out_dir', help='dataset root to create')
    parser.add_argument(
        '--preset',
        choices=sorted(toy_shapes.PRESETS),
        default='boundary',
        help='the settings the other options override (boundary: one '
        'colour per class, masks decide the score; hard: classes told '
        'apart by outline only, on textured noise)')
    parser.add_argument('--num-train', type=int)
    parser.add_argument('--num-val', type=int)
    parser.add_argument('--img-size', type=int)
    parser.add_argument(
        '--difficulty',
        type=float,
        help='0 = high contrast, 1 = objects nearly background-coloured')
    parser.add_argument('--seed', type=int)
    parser.add_argument('--max-instances', type=int)
    parser.add_argument(
        '--size-range',
        type=float,
        nargs=2,
        help='object extent as fractions of the image size')
    parser.add_argument(
        '--touch-prob',
        type=float,
        help='probability of a same-class instance touching another')
    parser.add_argument(
        '--force',
        action='store_true',
        help='replace an existing toy dataset (a directory with '
        f'{toy_shapes.META_FILE}) or fill an empty directory')
    return parser.parse_args(argv)


def make_progress(total):
    """Return a ``progress(done, total)`` callback printing progress.

    A terminal gets mmengine's ProgressBar; a log file gets one line per 5%
    instead of one per image.
    """
    interactive = sys.stdout.isatty()
    if interactive and total > 0:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(total)
        return lambda done, total: bar.update()

    step = max(1, total // 20)

    def progress(done, total):
        if done % step == 0 or done == total:
            print(f'{done}/{total} images', flush=True)

    return progress


def main(argv=None):
    args = parse_args(argv)
    try:
        given = dict(
            num_train=args.num_train,
            num_val=args.num_val,
            img_size=args.img_size,
            difficulty=args.difficulty,
            seed=args.seed,
            max_instances=args.max_instances,
            size_range=args.size_range,
            touch_prob=args.touch_prob)
        given = {k: v for k, v in given.items() if v is not None}
        settings = toy_shapes.resolve_settings(dict(given, preset=args.preset))
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    out_dir = osp.abspath(args.out_dir)
    exists = osp.exists(out_dir)
    if exists:
        is_toy = osp.isfile(osp.join(out_dir, toy_shapes.META_FILE))
        is_empty = osp.isdir(out_dir) and not os.listdir(out_dir)
        if not args.force:
            print(
                f'error: {out_dir} already exists; pass --force to '
                'replace it.',
                file=sys.stderr)
            return 1
        if not (is_toy or is_empty):
            # --force must not wipe an unrelated directory after a typo.
            print(
                f'error: {out_dir} exists and is not a toy dataset (no '
                f'{toy_shapes.META_FILE}); refusing to delete it even '
                'with --force.',
                file=sys.stderr)
            return 1
    parent = osp.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    # Generate next to the target and swap it in at the end so that an
    # interrupted run never leaves a half-written dataset at out_dir.
    tmp_dir = tempfile.mkdtemp(
        prefix=f'.{osp.basename(out_dir)}.tmp-', dir=parent)
    start = time.perf_counter()
    try:
        summary = toy_shapes.generate_toy_dataset(
            tmp_dir,
            progress=make_progress(settings['num_train'] +
                                   settings['num_val']),
            **settings)
        os.chmod(tmp_dir, 0o755)
        if exists:
            shutil.rmtree(out_dir)
        os.replace(tmp_dir, out_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    elapsed = time.perf_counter() - start

    print(f'Toy dataset written to {out_dir} in {elapsed:.1f} s')
    print(f'settings: {summary["settings"]}')
    print(f'annotations: {summary["num_polygon_anns"]} polygon, '
          f'{summary["num_rle_anns"]} RLE')
    for split, num in summary['num_images'].items():
        per_class = summary['instances_per_class'][split]
        total = sum(per_class.values())
        print(f'{split}: {num} images, {total} instances')
        for name in toy_shapes.CLASSES:
            print(f'  {name:<9} {per_class[name]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
