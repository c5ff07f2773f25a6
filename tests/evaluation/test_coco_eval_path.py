"""The COCO configs' evaluation path with a known answer, no model needed.

The validation set of a shipped COCO config (the generated COCO-format set:
polygons, a two-part polygon, a crowd RLE, a grayscale and an empty image)
goes through the config's own test pipeline; its ground-truth instances are
then turned into results the way BlendMask turns its detections into
results (``BlendMaskHead.finish``: boxes rescaled to the original image,
RoI masks pasted and binarised), with a detection on each crowd region too,
and scored by the config's own evaluators (``SafeCocoMetric`` and
``BoundaryAPMetric``: RLE encoding, crowd matching). Every AP is 1.0; the
documented perturbations give the values computed by hand below.
"""
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData
from toy_runs import ROOT

from mmb2inst.structures.masks import box_crops

CONFIG = 'configs/b2inst_blendmask/b2inst-blendmask_r50_1x_coco.py'
KINDS = ('bbox', 'segm', 'boundary')


@pytest.fixture(scope='module')
def converted(coco_root):
    """``(evaluator, [(data sample, results)])``: the validation images
    through the config's pipeline, their ground truth as results."""
    from mmdet.registry import DATASETS, MODELS
    from pycocotools.coco import COCO
    cfg = Config.fromfile(osp.join(ROOT, CONFIG))
    cfg.model.backbone.init_cfg = None
    ann = f'{coco_root}/annotations/instances_val2017.json'
    cfg.val_dataloader.dataset.data_root = coco_root + '/'
    for metric in cfg.val_evaluator:
        metric.ann_file = ann
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    head = MODELS.build(cfg.model).mask_head.eval()
    evaluator = Evaluator(cfg.val_evaluator)
    evaluator.dataset_meta = dataset.metainfo
    coco = COCO(ann)
    samples = []
    for i in range(len(dataset)):
        sample = dataset[i]['data_samples']
        # The test pipeline loads annotations after its resize, in original
        # pixels; detections come in network-input pixels.
        gt = sample.gt_instances
        boxes = gt.bboxes.tensor * boxes_scale(sample)
        masks = gt.masks.resize(sample.img_shape)
        # Crops at the largest box's own size: pasting them back loses
        # nothing to resampling.
        size = max(1, math.ceil(float(
            (boxes[:, 2:] - boxes[:, :2]).max()))) if len(gt) else 1
        results = InstanceData(
            bboxes=boxes,
            scores=torch.full((len(gt), ), 0.9),
            labels=gt.labels)
        with torch.no_grad():
            out = head.finish(results, box_crops(masks, boxes, size), None,
                              None, sample.metainfo, True, None)
        # A detection of each crowd region, its exact mask, ranked first:
        # matched to the crowd it is no false positive.
        crowds = [a for a in coco.imgToAnns[sample.img_id] if a['iscrowd']]
        if crowds:
            x, y, w, h = torch.tensor([a['bbox'] for a in crowds]).T
            crowd = InstanceData(
                bboxes=torch.stack([x, y, x + w, y + h], 1),
                scores=torch.ones(len(crowds)),
                labels=torch.tensor(
                    [dataset.cat_ids.index(a['category_id']) for a in crowds]),
                masks=torch.from_numpy(
                    np.stack([coco.annToMask(a) for a in crowds])).bool())
            if 'mask_scores' in out:  # Eq. 2 without the scorer's factors
                crowd.mask_scores = crowd.scores
            out = InstanceData.cat([out, crowd])
        samples.append((sample, out))
    return evaluator, samples


def boxes_scale(sample) -> torch.Tensor:
    """``(4, )`` factors from original to network-input pixels."""
    return torch.tensor(sample.scale_factor).repeat(2)


def evaluate(evaluator, samples, change=None) -> dict:
    """``{kind: {item: AP}}`` of the results, after ``change(results,
    sample)`` (which returns the results to score)."""
    for sample, results in samples:
        results = results.clone()
        if change is not None:
            results = change(results, sample)
        data_sample = sample.clone()
        data_sample.pred_instances = results
        evaluator.process([data_sample.to_dict()])
    metrics = evaluator.evaluate(len(samples))
    out = {kind: {} for kind in KINDS}
    for key, value in metrics.items():
        kind = 'boundary' if key.startswith('boundary/') else key.split(
            '/')[1].split('_')[0]
        out[kind][key.split('_', 1)[1]] = value
    return out


def val_categories(coco_root) -> dict:
    """``{category id: name}`` of the validation split's non-crowd
    instances."""
    from pycocotools.coco import COCO
    coco = COCO(f'{coco_root}/annotations/instances_val2017.json')
    ids = {a['category_id'] for a in coco.anns.values() if not a['iscrowd']}
    return {c['id']: c['name'] for c in coco.loadCats(sorted(ids))}


def test_ground_truth_as_results_scores_one(converted, coco_root):
    evaluator, samples = converted
    kinds = {osp.basename(s.img_path): s for s, _ in samples}
    # What the set holds: crowd, two-part polygon, grayscale and empty.
    assert any(len(s.ignored_instances) for s in kinds.values())
    assert any(len(s.gt_instances) == 0 for s in kinds.values())
    aps = evaluate(evaluator, samples)
    for kind in KINDS:
        assert aps[kind]['mAP'] == 1.0, (kind, aps[kind])
        assert aps[kind]['mAP_50'] == aps[kind]['mAP_75'] == 1.0, kind


def test_dropping_a_category_costs_its_share(converted, coco_root):
    # COCO's mAP is the mean over the categories with ground truth: without
    # the detections of one of them, its AP is 0 and every other one 1.
    evaluator, samples = converted
    categories = val_categories(coco_root)
    assert len(categories) > 2
    dropped = evaluator.metrics[0].dataset_meta['classes'].index(
        categories[min(categories)])
    aps = evaluate(evaluator, samples, lambda r, s: r[r.labels != dropped])
    expected = round(1 - 1 / len(categories), 3)
    for kind in KINDS:
        assert aps[kind]['mAP'] == expected, (kind, aps[kind])


def test_shifted_boxes_pass_half_the_iou_thresholds(converted):
    # A box moved sideways by a fraction f of its width overlaps its ground
    # truth with IoU (1 - f) / (1 + f); at 0.72 it is a match at the IoU
    # thresholds 0.50, ..., 0.70 and a miss at 0.75, ..., 0.95: box AP 0.5.
    # Masks are not moved: mask and Boundary AP stay 1.
    evaluator, samples = converted
    iou = 0.72
    f = (1 - iou) / (1 + iou)

    def shift(results, sample):
        boxes = results.bboxes.clone()
        width = boxes[:, 2] - boxes[:, 0]
        boxes[:, 0::2] += f * width[:, None]
        results.bboxes = boxes
        return results

    aps = evaluate(evaluator, samples, shift)
    assert aps['bbox']['mAP'] == 0.5
    assert aps['bbox']['mAP_50'] == 1.0 and aps['bbox']['mAP_75'] == 0.0
    assert aps['segm']['mAP'] == aps['boundary']['mAP'] == 1.0
