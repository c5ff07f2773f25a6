"""SafeCocoMetric: mmdet's CocoMetric, but AP 0 (COCO's -1 where there is
no ground truth of that size) when a model detects nothing."""
import numpy as np
import pytest
import torch
from mmdet.evaluation import CocoMetric
from mmdet.registry import METRICS


def samples(coco, with_detections: bool):
    out = []
    for img in coco.dataset['images']:
        anns = coco.imgToAnns[img['id']]
        if with_detections and anns:
            ann = anns[0]
            x, y, w, h = ann['bbox']
            mask = coco.annToMask(ann)
            pred = dict(
                bboxes=torch.tensor([[x, y, x + w, y + h]]),
                scores=torch.tensor([0.9]),
                labels=torch.tensor([coco_label(coco, ann)]),
                masks=torch.from_numpy(mask[None].astype(bool)))
        else:
            pred = dict(
                bboxes=torch.zeros(0, 4),
                scores=torch.zeros(0),
                labels=torch.zeros(0, dtype=torch.long),
                masks=torch.zeros(
                    0, img['height'], img['width'], dtype=torch.bool))
        out.append(
            dict(
                img_id=img['id'],
                ori_shape=(img['height'], img['width']),
                pred_instances=pred))
    return out


def coco_label(coco, ann):
    cat_ids = sorted(coco.getCatIds())
    return cat_ids.index(ann['category_id'])


@pytest.mark.parametrize('with_detections', [False, True])
def test_empty_predictions_give_every_key(coco_root, with_detections):
    from mmdet.datasets import CocoDataset
    from pycocotools.coco import COCO
    ann = f'{coco_root}/annotations/instances_val2017.json'
    coco = COCO(ann)
    meta = dict(classes=CocoDataset.METAINFO['classes'])
    ours = METRICS.build(
        dict(type='SafeCocoMetric', ann_file=ann, metric=['bbox', 'segm']))
    ours.dataset_meta = meta
    theirs = CocoMetric(ann_file=ann, metric=['bbox', 'segm'])
    theirs.dataset_meta = meta
    data = samples(coco, with_detections)
    ours.process({}, data)
    theirs.process({}, data)
    mine = ours.evaluate(len(data))
    upstream = theirs.evaluate(len(data))
    if with_detections:
        assert mine == upstream  # mmdet's own numbers
        assert mine['coco/segm_mAP'] > 0
        return
    assert 'coco/segm_mAP' not in upstream  # what mmdet does
    areas = np.array(
        [a['area'] for a in coco.dataset['annotations'] if not a['iscrowd']])
    for metric in ('bbox', 'segm'):
        assert mine[f'coco/{metric}_mAP'] == 0.
        assert mine[f'coco/{metric}_mAP_50'] == 0.
        assert mine[f'coco/{metric}_mAP_s'] == (0. if
                                                (areas < 32**2).any() else -1.)
        assert mine[f'coco/{metric}_mAP_l'] == (0. if (areas >= 96**2).any()
                                                else -1.)
