# Copyright (c) mmb2inst contributors. All rights reserved.
import json
import logging

import cv2
import numpy as np
import pytest
import torch
from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS
from mmengine.logging import MMLogger
from pycocotools import mask as mask_util

from mmb2inst.evaluation import BoundaryAPMetric

IOU_THRS = np.linspace(.5, .95, 10)


def _erode(mask, d):
    """Erosion by a (2d+1)^2 square, the outside of the image background."""
    h, w = mask.shape
    padded = np.pad(mask, d)
    out = np.ones_like(mask)
    for dy in range(2 * d + 1):
        for dx in range(2 * d + 1):
            out &= padded[dy:dy + h, dx:dx + w]
    return out


def _boundary(mask, ratio=0.02):
    """The Boundary IoU paper's boundary: mask minus its erosion by d."""
    d = max(1, int(round(ratio * np.hypot(*mask.shape))))
    return mask & ~_erode(mask, d)


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def _disk(size, radius, center=None):
    yy, xx = np.mgrid[:size, :size]
    cy, cx = (size // 2, size // 2) if center is None else center
    return (yy - cy)**2 + (xx - cx)**2 <= radius**2


def _square(size, top, left, side):
    mask = np.zeros((size, size), bool)
    mask[top:top + side, left:left + side] = True
    return mask


def _write_gt(tmp_path, images, categories):
    """A COCO json; ``images``: [(img_id, (H, W), [(cat_id, mask), ...])]."""
    gt = dict(
        images=[],
        annotations=[],
        categories=[{
            'id': i,
            'name': n
        } for i, n in categories])
    for img_id, (h, w), objects in images:
        gt['images'].append(dict(id=img_id, height=h, width=w))
        for cat_id, mask in objects:
            rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
            gt['annotations'].append(
                dict(
                    id=len(gt['annotations']) + 1,
                    image_id=img_id,
                    category_id=cat_id,
                    iscrowd=0,
                    area=int(mask.sum()),
                    bbox=mask_util.toBbox(rle).tolist(),
                    segmentation=dict(
                        size=rle['size'], counts=rle['counts'].decode())))
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(gt))
    return str(path)


def _sample(img_id, shape, masks, labels, scores=None):
    """A data sample as the val loop hands it to the metric."""
    masks = torch.from_numpy(np.stack(masks)) if masks else torch.zeros(
        (0, ) + shape, dtype=torch.bool)
    bboxes = torch.zeros(len(masks), 4)
    for i, mask in enumerate(masks):
        if not mask.any():
            continue
        ys, xs = torch.nonzero(mask, as_tuple=True)
        bboxes[i] = torch.stack(
            [xs.min(), ys.min(),
             xs.max() + 1, ys.max() + 1]).float()
    if scores is None:
        scores = [1.] * len(labels)
    return dict(
        img_id=img_id,
        ori_shape=shape,
        pred_instances=dict(
            masks=masks,
            bboxes=bboxes,
            scores=torch.tensor(scores, dtype=torch.float32),
            labels=torch.tensor(labels, dtype=torch.long)))


def _evaluate(metric, samples, classes):
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_reference_boundary_is_boundary_iou_apis():
    # boundary-iou-api's mask_to_boundary: pad by one zero pixel, then
    # cv2.erode with a 3x3 kernel d times; d = round(0.02 * diag) = 4 here.
    mask = _disk(128, 20) & ~_disk(128, 8) | _square(128, 0, 100, 20)
    padded = cv2.copyMakeBorder(
        mask.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(padded, np.ones((3, 3), np.uint8), iterations=4)
    expected = mask.astype(np.uint8) - eroded[1:-1, 1:-1]
    np.testing.assert_array_equal(_boundary(mask), expected.astype(bool))


def test_identical_masks_give_ap_1(tmp_path):
    # Non-contiguous category ids listed out of order: label i is the i-th
    # category of the json among the classes, as in mmdet's CocoDataset.
    ring = _disk(96, 20) & ~_disk(96, 8)
    square = _square(96, 60, 5, 30)
    small = _square(64, 3, 3, 6)
    ann_file = _write_gt(tmp_path, [(1, (96, 96), [(7, ring), (3, square)]),
                                    (2, (64, 64), [(3, small)])], [(7, 'ring'),
                                                                   (3, 'box')])
    from mmdet.utils import register_all_modules
    register_all_modules()
    metric = METRICS.build(
        dict(
            type='BoundaryAPMetric',
            ann_file=ann_file,
            iou_types=('boundary', 'segm', 'bbox')))
    assert isinstance(metric, BoundaryAPMetric)
    out = _evaluate(metric, [
        _sample(1, (96, 96), [ring, square], [0, 1]),
        _sample(2, (64, 64), [small], [1])
    ], ('box', 'ring'))
    for iou_type in ('boundary', 'segm', 'bbox'):
        for item in ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m'):
            assert out[f'boundary/{iou_type}_{item}'] == 1.0
        # No ground truth of large area (> 96^2 pixels): COCO's -1.
        assert out[f'boundary/{iou_type}_mAP_l'] == -1.0
    assert len(out) == 18


def test_shifted_square(tmp_path):
    # 96x96 image: d = round(0.02 * 135.8) = 3. A 20x20 square and the same
    # square one pixel to the right. Boundaries are the 3-pixel bands,
    # 20*20 - 14*14 = 204 pixels each. They share 19 columns of the six
    # full-width rows (114) and 2 + 2 pixels of each of the 14 middle rows
    # (56): boundary IoU = 170 / (204 + 204 - 170) = 5/7, mask IoU =
    # 380 / 420 = 0.905.
    gt = _square(96, 30, 30, 20)
    pred = np.roll(gt, 1, axis=1)
    assert _iou(_boundary(gt), _boundary(pred)) == pytest.approx(170 / 238)
    assert _iou(gt, pred) == pytest.approx(380 / 420)
    ann_file = _write_gt(tmp_path, [(1, (96, 96), [(1, gt)])], [(1, 'box')])
    metric = BoundaryAPMetric(ann_file=ann_file)
    metric.dataset_meta = dict(classes=('box', ))
    metric.process({}, [_sample(1, (96, 96), [pred], [0])])
    coco_eval = metric.run_cocoeval(
        metric.results2dets(metric.results, 'boundary'), 'boundary')
    np.testing.assert_allclose(coco_eval.ious[1, 1], [[170 / 238]])

    out = metric.evaluate(1)
    # A true positive at IoU 0.50 ... 0.70, not from 0.75 on.
    assert out['boundary/boundary_mAP_50'] == 1.0
    assert out['boundary/boundary_mAP_75'] == 0.0
    assert out['boundary/boundary_mAP'] == pytest.approx(0.5)


def test_ring_vs_disk_boundary_below_mask_ap(tmp_path):
    # The ground truth is a ring, the prediction fills its hole. 128x128:
    # d = 4. Most pixels agree (mask IoU 0.84), but the hole's rim is half
    # of the ring's boundary and missing from the disk's (boundary IoU 0.63).
    ring = _disk(128, 20) & ~_disk(128, 8)
    disk = _disk(128, 20)
    mask_iou = _iou(ring, disk)
    boundary_iou = _iou(_boundary(ring), _boundary(disk))
    assert mask_iou == pytest.approx(1 - 197 / 1257)  # pixel counts
    assert 0.6 < boundary_iou < 0.65 and 0.8 < mask_iou < 0.85
    ann_file = _write_gt(tmp_path, [(1, (128, 128), [(1, ring)])],
                         [(1, 'ring')])
    metric = BoundaryAPMetric(
        ann_file=ann_file, iou_types=('boundary', 'segm'))
    metric.dataset_meta = dict(classes=('ring', ))
    metric.process({}, [_sample(1, (128, 128), [disk], [0])])
    for iou_type, expected in (('segm', mask_iou), ('boundary', boundary_iou)):
        coco_eval = metric.run_cocoeval(
            metric.results2dets(metric.results, iou_type), iou_type)
        np.testing.assert_allclose(coco_eval.ious[1, 1], [[expected]])

    out = metric.evaluate(1)
    # One detection, one ground truth: AP is the fraction of thresholds
    # its IoU reaches.
    assert out['boundary/segm_mAP'] == pytest.approx(
        (mask_iou >= IOU_THRS).mean())  # 0.7
    assert out['boundary/boundary_mAP'] == pytest.approx(
        (boundary_iou >= IOU_THRS).mean())  # 0.3
    assert out['boundary/boundary_mAP'] < out['boundary/segm_mAP'] - 0.3


def test_segm_equals_mmdet_coco_metric(tmp_path):
    # Perturbed ground truth with random scores, a duplicate and an image
    # without predictions: faster-coco-eval's mask AP is CocoMetric's.
    rng = np.random.default_rng(0)
    kernel = np.ones((3, 3), np.uint8)
    images, samples = [], []
    for img_id in range(1, 5):
        objects, preds, labels = [], [], []
        for _ in range(3):
            cat = int(rng.integers(1, 3))
            center = rng.integers(20, 76, 2)
            gt = _disk(96, int(rng.integers(4, 24)), center)
            if cat == 2:
                gt &= ~_disk(96, 3, center)
            objects.append((cat, gt))
            op = [cv2.erode, cv2.dilate][int(rng.integers(2))]
            preds.append(op(gt.astype(np.uint8), kernel).astype(bool))
            labels.append(cat - 1)
        preds.append(np.roll(preds[0], 2, axis=0))
        labels.append(labels[0])
        images.append((img_id, (96, 96), objects))
        if img_id != 4:
            samples.append(
                _sample(img_id, (96, 96), preds, labels,
                        rng.random(len(labels)).tolist()))
    samples.append(_sample(4, (96, 96), [], []))
    ann_file = _write_gt(tmp_path, images, [(1, 'disk'), (2, 'ring')])
    classes = ('disk', 'ring')
    ours = _evaluate(
        BoundaryAPMetric(ann_file=ann_file, iou_types='segm'), samples,
        classes)
    theirs = _evaluate(
        CocoMetric(ann_file=ann_file, metric='segm'), samples, classes)
    assert 0.1 < ours['boundary/segm_mAP'] < 0.9
    for item in ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l'):
        assert ours[f'boundary/segm_{item}'] == theirs[f'coco/segm_{item}']


def test_no_predictions_give_zeros(tmp_path):
    ann_file = _write_gt(tmp_path, [(1, (32, 32), [(1, _disk(32, 5))])],
                         [(1, 'disk')])
    metric = BoundaryAPMetric(
        ann_file=ann_file, iou_types=('boundary', 'segm'))
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        out = _evaluate(metric, [_sample(1, (32, 32), [], [])], ('disk', ))
        assert metric.compute_metrics([]) == {k.split('/')[1]: 0. for k in out}
    finally:
        logger.removeHandler(handler)
    assert len(out) == 12 and set(out.values()) == {0.}
    assert any(r.levelno == logging.WARNING and 'no detection' in r.msg
               for r in records)


def test_classwise(tmp_path):
    square = _square(64, 10, 10, 20)
    ann_file = _write_gt(tmp_path, [(1, (64, 64), [(1, square),
                                                   (2, _disk(64, 8))])],
                         [(1, 'box'), (2, 'disk')])
    metric = BoundaryAPMetric(ann_file=ann_file, classwise=True)
    out = _evaluate(metric, [_sample(1, (64, 64), [square], [0])],
                    ('box', 'disk'))
    assert out['boundary/boundary_box_precision'] == 1.0
    assert out['boundary/boundary_disk_precision'] == 0.0
    assert out['boundary/boundary_mAP'] == 0.5


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='needs ann_file'):
        BoundaryAPMetric()
    with pytest.raises(FileNotFoundError, match='not found'):
        BoundaryAPMetric(ann_file=str(tmp_path / 'missing.json'))
    ann_file = _write_gt(tmp_path, [(1, (32, 32), [(1, _disk(32, 5))])],
                         [(1, 'disk')])
    with pytest.raises(KeyError, match='iou_types'):
        BoundaryAPMetric(ann_file=ann_file, iou_types=('mask', ))
    metric = BoundaryAPMetric(ann_file=ann_file)
    # Masks of the resized network input instead of the original image.
    sample = _sample(1, (64, 64), [_disk(64, 5)], [0])
    sample['ori_shape'] = (32, 32)
    with pytest.raises(ValueError, match='rescale=True'):
        metric.process({}, [sample])
    metric.dataset_meta = dict(classes=('disk', 'cat'))
    with pytest.raises(ValueError, match="'cat'"):
        metric.results2dets([], 'boundary')


def test_outfile_holds_the_evaluated_detections(tmp_path):
    # Written in COCO's results format: loaded back as results it gives the
    # same AP (the shifted square of the test above: 0.5).
    from faster_coco_eval import COCO, COCOeval_faster
    gt = _square(96, 30, 30, 20)
    ann_file = _write_gt(tmp_path, [(1, (96, 96), [(1, gt)]),
                                    (2, (96, 96), [])], [(1, 'box')])
    prefix = str(tmp_path / 'results')
    metric = BoundaryAPMetric(
        ann_file=ann_file,
        iou_types=('boundary', 'bbox'),
        outfile_prefix=prefix)
    out = _evaluate(metric, [
        _sample(1, (96, 96), [np.roll(gt, 1, axis=1)], [0]),
        _sample(2, (96, 96), [_square(96, 0, 0, 10)], [0], [0.5])
    ], ('box', ))
    with open(f'{prefix}.boundary.json') as f:
        dets = json.load(f)
    assert [(d['image_id'], d['category_id'], d['score'])
            for d in dets] == [(1, 1, 1.0), (2, 1, 0.5)]
    assert all(isinstance(d['segmentation']['counts'], str) for d in dets)
    coco = COCO(ann_file)
    coco_eval = COCOeval_faster(
        coco, coco.loadRes(dets), iouType='boundary', print_function=print)
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    assert coco_eval.stats_as_dict['AP_all'] == pytest.approx(
        out['boundary/boundary_mAP'], abs=5e-4)
    assert out['boundary/boundary_mAP'] == pytest.approx(0.5)
    with open(f'{prefix}.bbox.json') as f:
        assert [d['bbox'] for d in json.load(f)] == [[31., 30., 20., 20.],
                                                     [0., 0., 10., 10.]]
