# Copyright (c) mmb2inst contributors. All rights reserved.
"""mmdet's ``CocoMetric``, reporting AP 0 when a model detects nothing."""
from collections import OrderedDict
from typing import Dict, List

from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS
from mmengine.logging import MMLogger

ITEMS = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')
# COCO's area ranges of the _s, _m, _l items.
AREAS = dict(mAP_s=(0, 32**2), mAP_m=(32**2, 96**2), mAP_l=(96**2, 1e10))


@METRICS.register_module()
class SafeCocoMetric(CocoMetric):
    """``CocoMetric`` that gives every metric item when there is no
    detection at all.

    mmdet's ``CocoMetric`` logs "The testing results of the whole dataset is
    empty" and returns no ``bbox_mAP`` / ``segm_mAP`` then, which happens to
    a model early in training; logs and ``save_best`` then lack the keys.
    Without detections AP is 0 where there is ground truth, and COCO's -1
    ("no ground truth of this size") elsewhere; that is what this metric
    reports. With detections it is mmdet's ``CocoMetric`` unchanged.
    """

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        if any(len(pred['bboxes']) for _, pred in results):
            return super().compute_metrics(results)
        MMLogger.get_current_instance().warning(
            'No detection in the whole dataset: AP 0 (COCO\'s -1 for the '
            'sizes without ground truth).')
        if self._coco_api is None:
            return super().compute_metrics(results)  # mmdet's own path
        img_ids = set(self.img_ids or self._coco_api.get_img_ids())
        areas = [
            ann['area'] for ann in self._coco_api.anns.values()
            if not ann.get('iscrowd', 0) and ann['image_id'] in img_ids
        ]
        out = OrderedDict()
        for metric in self.metrics:
            if metric not in ('bbox', 'segm'):
                continue
            for item in self.metric_items or ITEMS:
                value = 0.
                if item in AREAS:
                    lo, hi = AREAS[item]
                    value = 0. if any(lo <= a < hi for a in areas) else -1.
                out[f'{metric}_{item}'] = value
        return out
