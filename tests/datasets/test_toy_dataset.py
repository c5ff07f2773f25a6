# Copyright (c) mmb2inst contributors. All rights reserved.
"""Tests of the seeded toy shapes dataset and its generator."""
import hashlib
import itertools
import json
import multiprocessing
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from mmb2inst.datasets.toy_shapes import (CLASSES, DEFAULT_SETTINGS,
                                          FORMAT_VERSION, META_FILE, PRESETS,
                                          SPLITS, ensure_toy_dataset,
                                          generate_toy_dataset, render_image,
                                          resolve_settings)

# pycocotools' decode trips numpy 2's copy-keyword DeprecationWarning on
# every call; it is not ours and drowns the report.
pytestmark = pytest.mark.filterwarnings(
    'ignore:__array__ implementation:DeprecationWarning')

# 20 small images: fast, yet enough for every class, polygons, RLEs and
# touching same-class pairs to occur.
SMALL = dict(
    num_train=16,
    num_val=4,
    img_size=64,
    difficulty=0.3,
    seed=3,
    max_instances=6)
TINY = dict(num_train=6, num_val=2, img_size=48, seed=1)


def _ann_path(root, split):
    return osp.join(str(root), 'annotations', f'instances_{split}.json')


def _load_coco(root, split):
    coco = COCO(_ann_path(root, split))
    return coco


def _image_anns(coco, image_id):
    # Annotation ids follow the z-order in which render_image returns them.
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
    return sorted(anns, key=lambda a: a['id'])


@pytest.fixture(scope='module')
def small_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy') / 'small'
    summary = generate_toy_dataset(str(root), **SMALL)
    assert summary['num_images'] == dict(train=16, val=4)
    return root


def test_default_settings_and_classes():
    assert CLASSES == ('star', 'crescent', 'ell', 'ring', 'comb')
    assert set(DEFAULT_SETTINGS) == {
        'num_train', 'num_val', 'img_size', 'difficulty', 'seed',
        'max_instances', 'class_colours', 'size_range', 'touch_prob'
    }
    assert DEFAULT_SETTINGS == PRESETS['boundary']
    assert set(PRESETS['hard']) == set(DEFAULT_SETTINGS)
    assert resolve_settings(dict(preset='hard', seed=3)) == dict(
        PRESETS['hard'], seed=3, size_range=[0.18, 0.6])
    with pytest.raises(ValueError, match="preset 'easy'"):
        resolve_settings(dict(preset='easy'))


# sha1 of the pixels and instance masks of images 0-2 of the first toy set's
# training split (seed 0, the generator of commit 98b5ac3): the hard preset
# is that set, image for image.
FIRST_TOY_SET = ('0ec4659103b1d39a5f69500cb13c9956fb8f6ce0',
                 'fe68160b13683ec3975bbabfa89e2cac8cb15bf8',
                 '00038d3c194cdbe2cba1bb325c19df193b12f094')


def test_hard_preset_is_the_first_toy_set():
    hard = resolve_settings(dict(preset='hard'))
    for i, expected in enumerate(FIRST_TOY_SET):
        img, instances = render_image(
            np.random.default_rng([0, 0, i]), 128, hard['difficulty'],
            hard['max_instances'], hard['class_colours'], hard['size_range'],
            hard['touch_prob'])
        digest = hashlib.sha1(img.tobytes() +
                              b''.join(x['mask'].tobytes()
                                       for x in instances)).hexdigest()
        assert digest == expected


def test_boundary_preset_colours_classes():
    # One colour per class (recognition is easy); touching same-class
    # neighbours differ only slightly.
    settings = resolve_settings({})
    per_class = {}
    for i in range(30):
        img, instances = render_image(
            np.random.default_rng([0, 0, i]), 128, settings['difficulty'],
            settings['max_instances'], True, settings['size_range'],
            settings['touch_prob'])
        for inst in instances:
            mean = img[inst['mask'].astype(bool)].mean(0)
            per_class.setdefault(inst['category_id'], []).append(mean)
    centres = {c: np.mean(v, 0) for c, v in per_class.items()}
    assert len(centres) == 5
    for c, values in per_class.items():
        own = np.linalg.norm(np.array(values) - centres[c], axis=1).max()
        nearest = min(
            np.linalg.norm(centres[c] - centres[o]) for o in centres if o != c)
        assert own < nearest / 2


def test_layout_and_meta(small_root):
    for split, num in (('train', 16), ('val', 4)):
        files = sorted(os.listdir(small_root / split))
        assert files == [f'{i:06d}.png' for i in range(num)]
        img = cv2.imread(str(small_root / split / files[0]))
        assert img.shape == (64, 64, 3)
    with open(small_root / META_FILE) as f:
        meta = json.load(f)
    assert meta['format_version'] == FORMAT_VERSION
    assert meta['settings'] == resolve_settings(SMALL)
    assert meta['classes'] == list(CLASSES)


def test_determinism(small_root, tmp_path):
    again = tmp_path / 'again'
    generate_toy_dataset(str(again), **SMALL)
    for split in SPLITS:
        with open(_ann_path(small_root, split), 'rb') as f:
            first = f.read()
        with open(_ann_path(again, split), 'rb') as f:
            second = f.read()
        assert first == second
        for name in os.listdir(small_root / split):
            assert (small_root / split / name).read_bytes() == \
                (again / split / name).read_bytes(), name
    with open(small_root / META_FILE, 'rb') as f:
        assert f.read() == (again / META_FILE).read_bytes()

    other = tmp_path / 'other_seed'
    generate_toy_dataset(str(other), **dict(SMALL, seed=SMALL['seed'] + 1))
    for split in SPLITS:
        with open(_ann_path(other, split), 'rb') as f:
            assert f.read() != (small_root / 'annotations' /
                                f'instances_{split}.json').read_bytes()


def test_annotations_are_valid_and_match_render(small_root):
    num_poly = num_rle = 0
    class_counts = {name: 0 for name in CLASSES}
    for split_idx, split in enumerate(SPLITS):
        coco = _load_coco(small_root, split)
        ann_ids = coco.getAnnIds()
        assert sorted(ann_ids) == list(range(1, len(ann_ids) + 1))
        assert sorted(c['id'] for c in coco.loadCats(coco.getCatIds())) == \
            [1, 2, 3, 4, 5]
        num_images = SMALL[f'num_{split}']
        assert len(coco.getImgIds()) == num_images
        for img_idx in range(num_images):
            img_info = coco.loadImgs([img_idx + 1])[0]
            assert img_info['file_name'] == f'{img_idx:06d}.png'
            assert (img_info['height'], img_info['width']) == (64, 64)
            anns = _image_anns(coco, img_idx + 1)
            rng = np.random.default_rng([SMALL['seed'], split_idx, img_idx])
            full = resolve_settings(SMALL)
            image, instances = render_image(rng, full['img_size'],
                                            full['difficulty'],
                                            full['max_instances'],
                                            full['class_colours'],
                                            full['size_range'],
                                            full['touch_prob'])
            png = cv2.imread(str(small_root / split / img_info['file_name']))
            np.testing.assert_array_equal(png, image)
            assert 1 <= len(anns) == len(instances) <= 6
            union = np.zeros((64, 64), np.int32)
            for ann, inst in zip(anns, instances):
                assert ann['iscrowd'] == 0
                assert ann['category_id'] == inst['category_id']
                class_counts[CLASSES[ann['category_id'] - 1]] += 1
                mask = coco.annToMask(ann)
                assert mask.shape == (64, 64)
                # Polygons and RLEs decode to exactly the rendered mask.
                np.testing.assert_array_equal(mask, inst['mask'])
                assert int(mask.sum()) == ann['area'] >= 12
                ys, xs = np.nonzero(mask)
                x1, y1 = xs.min(), ys.min()
                assert ann['bbox'] == [
                    x1, y1, xs.max() - x1 + 1,
                    ys.max() - y1 + 1
                ]
                if isinstance(ann['segmentation'], list):
                    num_poly += 1
                else:
                    assert isinstance(ann['segmentation']['counts'], str)
                    num_rle += 1
                union += mask
            # Visible masks never overlap.
            assert union.max() <= 1
    assert num_poly > 0 and num_rle > 0
    assert min(class_counts.values()) > 0, class_counts


def _touching_pairs(coco, image_id):
    pairs = 0
    kernel = np.ones((3, 3), np.uint8)
    anns = _image_anns(coco, image_id)
    for a, b in itertools.combinations(anns, 2):
        if a['category_id'] != b['category_id']:
            continue
        mask_a, mask_b = coco.annToMask(a), coco.annToMask(b)
        assert not np.any(mask_a & mask_b)
        # 8-adjacent: some pixel of b is next to a pixel of a.
        if np.any(cv2.dilate(mask_a, kernel) & mask_b):
            pairs += 1
    return pairs


def test_same_class_instances_touch(small_root):
    pairs = 0
    for split in SPLITS:
        coco = _load_coco(small_root, split)
        for image_id in coco.getImgIds():
            pairs += _touching_pairs(coco, image_id)
    assert pairs >= 1


def _has_enclosed_hole(mask):
    # Background components are 4-connected (dual of 8-connected objects);
    # one that does not reach the image border is a hole.
    num, labels = cv2.connectedComponents(
        (1 - mask).astype(np.uint8), connectivity=4)
    border = set(labels[0]) | set(labels[-1]) | set(labels[:, 0]) | \
        set(labels[:, -1])
    return any(label not in border for label in range(1, num))


def test_rings_are_rle_with_holes(small_root):
    rings = holes = 0
    for split in SPLITS:
        coco = _load_coco(small_root, split)
        for ann in coco.loadAnns(coco.getAnnIds(catIds=[4])):
            rings += 1
            assert isinstance(ann['segmentation'], dict)
            holes += _has_enclosed_hole(coco.annToMask(ann))
    assert rings > 0
    # Occluders may break a ring open (the default preset's large, often
    # touching objects do so more), but many keep their hole.
    assert holes >= max(1, rings // 3), (holes, rings)


def test_polygon_iff_unoccluded_without_hole():
    # A single top-most instance is never occluded: it is a polygon unless
    # it is a ring.
    for idx in range(30):
        rng = np.random.default_rng([7, 0, idx])
        _, instances = render_image(rng, 64, 0.3, 1)
        assert len(instances) == 1
        inst = instances[0]
        is_ring = inst['category_id'] == CLASSES.index('ring') + 1
        assert isinstance(inst['segmentation'], dict) == is_ring


def _contrast(difficulty, num=12):
    diffs = []
    for idx in range(num):
        # Same rng stream for every difficulty: the geometry is identical
        # and only the appearance changes.
        rng = np.random.default_rng([11, 0, idx])
        img, instances = render_image(rng, 64, difficulty, 6)
        inside = np.zeros((64, 64), bool)
        for inst in instances:
            inside |= inst['mask'].astype(bool)
        pixels = img.astype(np.float64)
        diff = np.abs(pixels[inside].mean(0) - pixels[~inside].mean(0))
        diffs.append(diff.mean())
    return float(np.mean(diffs))


def test_difficulty_lowers_contrast():
    contrasts = [_contrast(d) for d in (0., 0.5, 0.9)]
    assert contrasts[0] > contrasts[1] > contrasts[2], contrasts
    assert contrasts[0] > 2 * contrasts[2], contrasts


def _ensure_worker(root, queue):
    try:
        queue.put(ensure_toy_dataset(root, TINY))
    except BaseException as err:  # report instead of dying silently
        queue.put(repr(err))


def test_ensure_toy_dataset_concurrent(tmp_path):
    root = str(tmp_path / 'data' / 'toy')
    ctx = multiprocessing.get_context('fork')
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_ensure_worker, args=(root, queue))
        for _ in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    results = sorted(str(queue.get(timeout=5)) for _ in procs)
    # Exactly one process generated, the others reused its result.
    assert results == ['False', 'False', 'True']
    assert sorted(os.listdir(tmp_path / 'data')) == ['.toy.lock', 'toy']
    assert len(os.listdir(osp.join(root, 'train'))) == 6
    assert ensure_toy_dataset(root, TINY) is False


def test_ensure_toy_dataset_refuses_mismatch(tmp_path):
    root = str(tmp_path / 'toy')
    assert ensure_toy_dataset(root, TINY) is True
    with pytest.raises(ValueError, match='difficulty') as info:
        ensure_toy_dataset(root, dict(TINY, difficulty=0.5))
    assert 'Delete' in str(info.value)
    with pytest.raises(ValueError, match='Unknown'):
        ensure_toy_dataset(root, dict(TINY, colour=1))
    # User data that is not a toy dataset is never overwritten.
    other = tmp_path / 'mine'
    other.mkdir()
    (other / 'notes.txt').write_text('keep me')
    with pytest.raises(ValueError, match='Refusing'):
        ensure_toy_dataset(str(other), TINY)
    assert (other / 'notes.txt').read_text() == 'keep me'
    # An empty directory is filled.
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert ensure_toy_dataset(str(empty), TINY) is True
    assert (empty / META_FILE).is_file()


def test_toy_shapes_dataset(tmp_path):
    pytest.importorskip('mmdet')
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules()
    import mmb2inst.datasets  # noqa: F401

    root = tmp_path / 'toy_shapes'
    generator = dict(num_train=8, num_val=3, img_size=64, seed=2)
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    ]
    cfg = dict(
        type='ToyShapesDataset',
        data_root=str(root) + '/',
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        generator=generator,
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=pipeline)
    dataset = DATASETS.build(cfg)
    assert type(dataset).__name__ == 'ToyShapesDataset'
    assert (root / META_FILE).is_file()
    assert 0 < len(dataset) <= 8
    assert dataset.metainfo['classes'] == CLASSES
    assert len(dataset.metainfo['palette']) == len(CLASSES)

    # Masks from mmdet's loading pipeline (polygons and str-RLEs) match
    # pycocotools' decoding of the same annotations.
    coco = _load_coco(root, 'train')
    for idx in range(len(dataset)):
        results = dataset[idx]
        anns = _image_anns(coco, results['img_id'])
        masks = results['gt_masks'].to_ndarray()
        assert results['img'].shape == (64, 64, 3)
        assert masks.shape == (len(anns), 64, 64)
        for ann, mask in zip(anns, masks):
            np.testing.assert_array_equal(mask, coco.annToMask(ann))
        np.testing.assert_array_equal(results['gt_bboxes_labels'],
                                      [ann['category_id'] - 1 for ann in anns])

    # The val dataset of the same config reuses the generated data.
    stamp = os.stat(root / META_FILE).st_mtime_ns
    val = DATASETS.build(
        dict(
            cfg,
            ann_file='annotations/instances_val.json',
            data_prefix=dict(img='val/'),
            test_mode=True))
    assert len(val) == 3
    assert os.stat(root / META_FILE).st_mtime_ns == stamp

    with pytest.raises(ValueError, match='seed'):
        DATASETS.build(dict(cfg, generator=dict(generator, seed=3)))
    with pytest.raises(ValueError, match='img_size'):
        DATASETS.build(dict(cfg, generator=dict(generator, img_size=32)))
    assert os.stat(root / META_FILE).st_mtime_ns == stamp
