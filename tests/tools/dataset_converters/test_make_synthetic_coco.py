"""tools/dataset_converters/make_synthetic_coco.py: the synthetic
COCO-format set has COCO's layout, categories and quirks,
and CheckedCocoDataset names the annotations it cannot use."""
import time

import numpy as np


def test_synthetic_coco_has_cocos_quirks(coco_root, synthetic_coco_tool):
    import json

    import cv2
    COCO_CATEGORIES = synthetic_coco_tool.COCO_CATEGORIES
    UNKNOWN_CATEGORY_ID = synthetic_coco_tool.UNKNOWN_CATEGORY_ID
    for split in ('train', 'val'):
        with open(f'{coco_root}/annotations/instances_{split}2017.json') as f:
            coco = json.load(f)
        assert [(c['id'], c['name'])
                for c in coco['categories']] == list(COCO_CATEGORIES)
        shapes = set()
        gray = 0
        for img in coco['images']:
            pixels = cv2.imread(f"{coco_root}/{split}2017/{img['file_name']}",
                                cv2.IMREAD_UNCHANGED)
            assert pixels.shape[:2] == (img['height'], img['width'])
            gray += pixels.ndim == 2
            shapes.add(round(img['width'] / img['height'], 2))
        assert gray == 1
        assert len(shapes) >= 3  # landscape, portrait, square, ...
        with_anns = {a['image_id'] for a in coco['annotations']}
        assert any(img['id'] not in with_anns for img in coco['images'])
        anns = coco['annotations']
        crowds = [a for a in anns if a['iscrowd']]
        assert crowds and all(
            isinstance(a['segmentation']['counts'], list) for a in crowds)
        polys = [a['segmentation'] for a in anns if not a['iscrowd']]
        assert any(len(p) > 1 for p in polys)  # several parts
        assert len({a['id'] for a in anns}) == len(anns)
    ids = {c for c, _ in COCO_CATEGORIES}
    assert len(ids) == 80 and max(ids) == 90
    # test-dev: image records and categories only, the val images again
    with open(f'{coco_root}/annotations/image_info_test-dev2017.json') as f:
        test_dev = json.load(f)
    assert 'annotations' not in test_dev
    assert [(c['id'], c['name'])
            for c in test_dev['categories']] == list(COCO_CATEGORIES)
    with open(f'{coco_root}/annotations/instances_val2017.json') as f:
        val_images = json.load(f)['images']
    assert len(test_dev['images']) == len(val_images)
    assert not {i['id']
                for i in test_dev['images']} & {i['id']
                                                for i in val_images}
    for img, val_img in zip(test_dev['images'], val_images):
        with open(f"{coco_root}/test2017/{img['file_name']}", 'rb') as a, \
                open(f"{coco_root}/val2017/{val_img['file_name']}",
                     'rb') as b:
            assert a.read() == b.read()
    assert UNKNOWN_CATEGORY_ID not in ids


def test_checked_dataset_names_the_unusable_annotations(coco_set):
    import logging

    from mmdet.registry import DATASETS
    from mmengine.logging import MMLogger

    coco_root, summary = coco_set
    # A new MMLogger is the current one, which the dataset logs to.
    logger = MMLogger.get_instance(f'checked-coco-{time.time()}')
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    dataset = DATASETS.build(
        dict(
            type='CheckedCocoDataset',
            data_root=coco_root + '/',
            ann_file='annotations/instances_train2017.json',
            data_prefix=dict(img='train2017/'),
            pipeline=[]))
    planted = summary['bad_annotation_ids']
    assert dataset.unusable_annotations == {
        'polygon': [planted['degenerate_polygon']],
        'box': [planted['zero_area_box']],
        'category': [planted['unknown_category']],
    }
    warnings = [r.getMessage() for r in records if r.levelno == 30]
    assert len(warnings) == 3
    for ann_id in planted.values():
        assert any(f'id {ann_id}.' in w for w in warnings)
    kept = {
        inst['bbox_label']
        for info in dataset.load_data_list()
        for inst in info['instances']
    }
    assert kept and max(kept) < 80
    # Everything else is mmdet's CocoDataset: same images, same instances
    # as mmdet's own parsing minus the unusable annotations.
    from mmdet.datasets import CocoDataset
    plain = CocoDataset(
        data_root=coco_root + '/',
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=[])
    assert len(plain) == len(dataset)
    counts = [len(d['instances']) for d in plain.load_data_list()]
    checked = [len(d['instances']) for d in dataset.load_data_list()]
    # mmdet keeps the two-point polygon (as an ignored instance) and drops
    # the other two silently.
    assert np.sum(counts) == np.sum(checked) + 1
