# Copyright (c) mmb2inst contributors. All rights reserved.
r"""Write a small synthetic dataset in COCO's exact format, for running the
COCO configs where COCO itself cannot be downloaded (tests, install check,
gradient-norm benchmark).

Example::

    python tools/dataset_converters/make_synthetic_coco.py data/coco_synthetic
    mim train mmb2inst blendmask_r50_1x_coco.py --cfg-options \
        train_dataloader.dataset.data_root=data/coco_synthetic/ ...

It has what the COCO configs meet on the real data and the toy set does not
have: COCO's layout (``annotations/instances_{train,val}2017.json``,
``train2017/``, ``val2017/``, and test-dev's
``annotations/image_info_test-dev2017.json`` with ``test2017/``: image records
without annotations, here the val images under other ids), COCO's 80 category
ids (1-90, with gaps) and names, polygon annotations (some of several parts, as
occluded COCO objects), ``iscrowd`` annotations stored as uncompressed RLE,
JPEG images of several sizes and aspect ratios, a grayscale JPEG, and images
without annotations. The training split also holds one annotation of each kind
the pipeline cannot use (a polygon of two points, a box of zero area, a
category id COCO does not have), whose ids :func:`generate_synthetic_coco`
returns.

Pure numpy + cv2 + pycocotools; the same seed gives the same files.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
from typing import Dict, List, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

# COCO 2017's 80 thing categories: ids and names, in COCO's order.
COCO_CATEGORIES = ((1, 'person'), (2, 'bicycle'), (3, 'car'), (4,
                                                               'motorcycle'),
                   (5, 'airplane'), (6, 'bus'), (7, 'train'), (8, 'truck'),
                   (9, 'boat'), (10, 'traffic light'), (11, 'fire hydrant'),
                   (13, 'stop sign'), (14, 'parking meter'), (15, 'bench'),
                   (16, 'bird'), (17, 'cat'), (18, 'dog'), (19, 'horse'),
                   (20, 'sheep'), (21, 'cow'), (22, 'elephant'), (23, 'bear'),
                   (24, 'zebra'), (25, 'giraffe'), (27, 'backpack'),
                   (28, 'umbrella'), (31, 'handbag'), (32, 'tie'),
                   (33, 'suitcase'), (34, 'frisbee'), (35,
                                                       'skis'), (36,
                                                                 'snowboard'),
                   (37, 'sports ball'), (38, 'kite'), (39, 'baseball bat'),
                   (40, 'baseball glove'), (41, 'skateboard'), (42,
                                                                'surfboard'),
                   (43, 'tennis racket'), (44, 'bottle'), (46, 'wine glass'),
                   (47, 'cup'), (48, 'fork'), (49, 'knife'), (50, 'spoon'),
                   (51, 'bowl'), (52, 'banana'), (53, 'apple'), (54,
                                                                 'sandwich'),
                   (55, 'orange'), (56, 'broccoli'), (57, 'carrot'),
                   (58, 'hot dog'), (59, 'pizza'), (60, 'donut'), (61, 'cake'),
                   (62, 'chair'), (63, 'couch'), (64, 'potted plant'),
                   (65, 'bed'), (67, 'dining table'), (70, 'toilet'),
                   (72, 'tv'), (73, 'laptop'), (74, 'mouse'), (75, 'remote'),
                   (76, 'keyboard'), (77, 'cell phone'), (78, 'microwave'),
                   (79, 'oven'), (80, 'toaster'), (81,
                                                   'sink'), (82,
                                                             'refrigerator'),
                   (84, 'book'), (85, 'clock'), (86, 'vase'), (87, 'scissors'),
                   (88, 'teddy bear'), (89, 'hair drier'), (90, 'toothbrush'))
# A category id inside COCO's range that COCO does not use.
UNKNOWN_CATEGORY_ID = 12

# (width, height, grayscale, with objects) of each image, per split: COCO's
# usual 640-wide landscape and portrait images, a square one, a wide and a
# tall panorama, a small one, a grayscale one and empty ones.
IMAGES = dict(
    train=((640, 480, False, True), (480, 640, False, True),
           (612, 612, False, True), (640, 427, True, True),
           (800, 320, False, True), (360, 640, False, True),
           (500, 375, False, True), (320, 240, False, True), (640, 480, False,
                                                              False)),
    val=((640, 480, False, True), (427, 640, True, True),
         (640, 360, False, True), (480, 480, False, False)))
SPLITS = ('train', 'val')
FORMAT_VERSION = 1


def _shape(rng: np.random.Generator, cx: float, cy: float,
           radius: float) -> np.ndarray:
    """A random star-shaped polygon ``(N, 2)`` (x, y) around a centre."""
    num = int(rng.integers(8, 24))
    angles = np.sort(rng.uniform(0, 2 * np.pi, num))
    radii = radius * rng.uniform(0.45, 1.0, num)
    return np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)],
                    1)


def _to_coco_polygon(points: np.ndarray, width: int,
                     height: int) -> List[float]:
    points = np.clip(points, 0, [width - 1, height - 1])
    return [round(float(v), 2) for v in points.reshape(-1)]


def _rasterise(segmentation, width: int, height: int) -> np.ndarray:
    rles = mask_utils.frPyObjects(segmentation, height, width)
    rle = mask_utils.merge(rles) if isinstance(rles, list) else rles
    return mask_utils.decode(rle).astype(bool)


def _annotation(segmentation, width: int, height: int) -> dict:
    """``segmentation`` with COCO's ``area`` and ``bbox`` computed from it,
    as COCO's own tools do."""
    rles = mask_utils.frPyObjects(segmentation, height, width)
    rle = mask_utils.merge(rles) if isinstance(rles, list) else rles
    return dict(
        segmentation=segmentation,
        area=float(mask_utils.area(rle)),
        bbox=[round(float(v), 2) for v in mask_utils.toBbox(rle)])


def _uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's uncompressed RLE (``counts`` a list, column-major runs
    starting with a background run), as COCO stores crowd regions."""
    flat = mask.astype(np.uint8).reshape(-1, order='F')
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return dict(counts=counts, size=list(mask.shape))


def _draw_image(rng: np.random.Generator, width: int, height: int,
                masks: List[np.ndarray], grayscale: bool) -> np.ndarray:
    """A smooth textured background with each instance in a flat colour."""
    small = rng.uniform(40, 215, (max(2, height // 32), max(
        2, width // 32), 3)).astype(np.float32)
    img = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    for mask in masks:
        img[mask] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 8, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if grayscale:
        return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return img


def _image_annotations(rng: np.random.Generator, width: int, height: int,
                       with_crowd: bool, with_multipart: bool
                       ) -> Tuple[List[dict], List[np.ndarray]]:
    """Instances of one image: ``(annotations without ids, masks)``."""
    anns, masks = [], []
    num = int(rng.integers(2, 6))
    short = min(width, height)
    for k in range(num):
        radius = short * rng.uniform(0.08, 0.3)
        cx = rng.uniform(radius, width - radius)
        cy = rng.uniform(radius, height - radius)
        parts = [_shape(rng, cx, cy, radius)]
        if with_multipart and k == 0:
            # A second part beside the first, as a COCO object cut in two
            # by an occluder.
            dx = radius * 1.6 * (1 if cx < width / 2 else -1)
            parts.append(_shape(rng, cx + dx, cy, radius * 0.6))
        segmentation = [_to_coco_polygon(p, width, height) for p in parts]
        ann = _annotation(segmentation, width, height)
        if ann['area'] < 1:
            continue
        ann.update(
            category_id=int(COCO_CATEGORIES[int(rng.integers(0, 80))][0]),
            iscrowd=0)
        anns.append(ann)
        masks.append(_rasterise(segmentation, width, height))
    if with_crowd:
        # A crowd: many small blobs in one region, one RLE, iscrowd=1.
        crowd = np.zeros((height, width), bool)
        x0, y0 = rng.uniform(0, 0.5) * width, rng.uniform(0, 0.5) * height
        for _ in range(12):
            cx = x0 + rng.uniform(0, 0.4) * width
            cy = y0 + rng.uniform(0, 0.4) * height
            r = short * rng.uniform(0.02, 0.05)
            pts = np.round(_shape(rng, cx, cy, r)).astype(np.int32)
            canvas = np.zeros((height, width), np.uint8)
            cv2.fillPoly(canvas, [pts], 1)
            crowd |= canvas.astype(bool)
        rle = _uncompressed_rle(crowd)
        ann = _annotation(rle, width, height)
        ann.update(category_id=1, iscrowd=1)
        anns.append(ann)
        masks.append(crowd)
    return anns, masks


def _bad_annotations(width: int, height: int) -> Dict[str, dict]:
    """One annotation of each kind the pipeline cannot use."""
    good = [[10., 10., 60., 10., 60., 50., 10., 50.]]
    return {
        # A "polygon" of two points, with the area and box a converter
        # might write: nothing to rasterise.
        'degenerate_polygon':
        dict(
            segmentation=[[20., 20., 40., 30.]],
            area=200.,
            bbox=[20., 20., 20., 10.],
            category_id=1,
            iscrowd=0),
        # A box of zero width.
        'zero_area_box':
        dict(
            segmentation=[[30., 30., 30., 30., 30., 60.]],
            area=0.,
            bbox=[30., 30., 0., 30.],
            category_id=3,
            iscrowd=0),
        # A category id the file's category list does not have.
        'unknown_category':
        dict(
            _annotation(good, width, height),
            category_id=UNKNOWN_CATEGORY_ID,
            iscrowd=0),
    }


def generate_synthetic_coco(out_dir: str, seed: int = 0) -> dict:
    """Write the dataset to ``out_dir`` (COCO's layout).

    Args:
        out_dir (str): Dataset root; ``annotations/``, ``train2017/``,
            ``val2017/`` and ``test2017/`` are created in it (files are
            overwritten).
        seed (int): Seed of the images and shapes. Defaults to 0.

    Returns:
        dict: ``bad_annotation_ids``: ``{reason: annotation id}`` of the
        unusable annotations planted in the training split, and
        ``num_images`` (with ``test-dev``) / ``num_annotations`` per split.
    """
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    categories = [
        dict(id=i, name=name, supercategory='thing')
        for i, name in COCO_CATEGORIES
    ]
    summary = dict(bad_annotation_ids={}, num_images={}, num_annotations={})
    ann_id, split_images = 1, {}
    for s, split in enumerate(SPLITS):
        img_dir = osp.join(out_dir, f'{split}2017')
        os.makedirs(img_dir, exist_ok=True)
        images, annotations = [], []
        for i, (width, height, gray, with_objects) in enumerate(IMAGES[split]):
            rng = np.random.default_rng([seed, s, i])
            image_id = 1000 * (s + 1) + i
            file_name = f'{image_id:012d}.jpg'
            anns, masks = ([], [])
            if with_objects:
                anns, masks = _image_annotations(
                    rng,
                    width,
                    height,
                    with_crowd=i % 3 == 0,
                    with_multipart=i % 2 == 0)
            if split == 'train' and i == 0:
                for reason, ann in _bad_annotations(width, height).items():
                    summary['bad_annotation_ids'][reason] = ann_id + len(anns)
                    anns.append(ann)
            for ann in anns:
                annotations.append(dict(ann, id=ann_id, image_id=image_id))
                ann_id += 1
            cv2.imwrite(
                osp.join(img_dir, file_name),
                _draw_image(rng, width, height, masks, gray),
                [cv2.IMWRITE_JPEG_QUALITY, 92])
            images.append(
                dict(
                    id=image_id,
                    file_name=file_name,
                    width=width,
                    height=height,
                    license=1))
        coco = dict(
            _file_header('mmb2inst synthetic COCO-format set', seed),
            images=images,
            annotations=annotations,
            categories=categories)
        with open(
                osp.join(out_dir, 'annotations',
                         f'instances_{split}2017.json'), 'w') as f:
            json.dump(coco, f)
        summary['num_images'][split] = len(images)
        summary['num_annotations'][split] = len(annotations)
        split_images[split] = images
    summary['num_images']['test-dev'] = _write_test_dev(
        out_dir, split_images['val'], categories, seed)
    return summary


def _file_header(description: str, seed: int) -> dict:
    """The ``info`` and ``licenses`` of an annotation file."""
    return dict(
        info=dict(
            description=description, version=str(FORMAT_VERSION), seed=seed),
        licenses=[dict(id=1, name='none', url='')])


def _write_test_dev(out_dir: str, val_images: List[dict],
                    categories: List[dict], seed: int) -> int:
    """COCO test-dev's layout: ``test2017/`` and an image-info file (image
    records and categories, no annotations), from the val images under
    ids of their own. Returns the number of images."""
    img_dir = osp.join(out_dir, 'test2017')
    os.makedirs(img_dir, exist_ok=True)
    images = []
    for i, image in enumerate(val_images):
        image_id = 1000 * (len(SPLITS) + 1) + i
        file_name = f'{image_id:012d}.jpg'
        shutil.copyfile(
            osp.join(out_dir, 'val2017', image['file_name']),
            osp.join(img_dir, file_name))
        images.append(dict(image, id=image_id, file_name=file_name))
    info = dict(
        _file_header('mmb2inst synthetic COCO-format set (test-dev)', seed),
        images=images,
        categories=categories)
    with open(
            osp.join(out_dir, 'annotations', 'image_info_test-dev2017.json'),
            'w') as f:
        json.dump(info, f)
    return len(images)


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
    summary = generate_synthetic_coco(args.out_dir, seed=args.seed)
    print(f'synthetic COCO-format set written to {args.out_dir}: '
          f"{summary['num_images']} images, {summary['num_annotations']} "
          'annotations; unusable annotations planted in train (ids): '
          f"{summary['bad_annotation_ids']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
