# Copyright (c) mmb2inst contributors. All rights reserved.
"""mmdet's ``CocoDataset``, saying which annotations it cannot use."""
from collections import defaultdict
from typing import Dict, List, Optional

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from mmengine.logging import print_log

# How many annotation ids a warning lists per reason.
MAX_IDS_SHOWN = 20

REASONS = {
    'box': 'a box of zero area or less than 1 px wide or high, or outside '
    'the image',
    'area': "an 'area' of 0 or less",
    'category': 'a category id the file does not list',
    'polygon': 'no polygon with at least 3 points',
}


def unusable_reason(ann: dict, img_w: float, img_h: float,
                    cat_ids) -> Optional[str]:
    """Why mmdet's COCO pipeline cannot train on ``ann``, or None.

    The box, area and category rules are mmdet's ``CocoDataset`` (which
    drops such annotations silently); the polygon rule is the one of
    mmdet's ``LoadAnnotations``, which would otherwise keep the instance as
    an ignored box with a placeholder mask.
    """
    if ann.get('ignore', False):
        return None  # marked by the file itself; mmdet drops it quietly
    x1, y1, w, h = ann['bbox']
    inter_w = max(0, min(x1 + w, img_w) - max(x1, 0))
    inter_h = max(0, min(y1 + h, img_h) - max(y1, 0))
    if inter_w * inter_h == 0 or w < 1 or h < 1:
        return 'box'
    if ann['area'] <= 0:
        return 'area'
    if ann['category_id'] not in cat_ids:
        return 'category'
    seg = ann.get('segmentation')
    if isinstance(seg, list) and seg and not any(
            len(poly) >= 6 and len(poly) % 2 == 0 for poly in seg):
        return 'polygon'
    return None


@DATASETS.register_module()
class CheckedCocoDataset(CocoDataset):
    """``CocoDataset`` that drops the annotations it cannot use with one
    warning per kind of problem, naming the annotation ids.

    The annotations dropped are those mmdet's ``CocoDataset`` drops silently
    (empty or tiny boxes, zero area, unknown category), and polygons without
    a single valid ring, which mmdet would keep as an ignored instance.
    Everything else is mmdet's: same data list, same metainfo.
    """

    def load_data_list(self) -> List[dict]:
        self._unusable: Dict[str, List[int]] = defaultdict(list)
        data_list = super().load_data_list()
        #: ``{reason: [annotation ids]}`` of the annotations dropped.
        self.unusable_annotations = dict(self._unusable)
        self._report_unusable()
        return data_list

    def parse_data_info(self, raw_data_info: dict) -> dict:
        img = raw_data_info['raw_img_info']
        usable = []
        for ann in raw_data_info['raw_ann_info']:
            reason = unusable_reason(ann, img['width'], img['height'],
                                     self.cat_ids)
            if reason is None:
                usable.append(ann)
            else:
                self._unusable[reason].append(ann.get('id'))
        return super().parse_data_info(
            dict(raw_data_info, raw_ann_info=usable))

    def _report_unusable(self) -> None:
        for reason, ids in sorted(self._unusable.items()):
            shown = ', '.join(str(i) for i in ids[:MAX_IDS_SHOWN])
            more = (f' and {len(ids) - MAX_IDS_SHOWN} more'
                    if len(ids) > MAX_IDS_SHOWN else '')
            print_log(
                f'{self.ann_file}: skipped {len(ids)} annotation(s) with '
                f'{REASONS[reason]}: id {shown}{more}.',
                logger='current',
                level=30)  # logging.WARNING
