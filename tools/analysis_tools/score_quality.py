"""How well do the predicted mask scores rank the masks? (B2Inst §4.2)

    python tools/analysis_tools/score_quality.py CONFIG CHECKPOINT [--num N]
        [--score-thr 0.05] [--out file.json]

Runs the model on the first --num images of the config's test set (all by
default). Every prediction is matched to the ground truth of its class with
the largest mask IoU at the original image size; predictions that overlap no
ground truth of their class are counted but left out. For the matched ones
the tool reports Spearman's rank correlation of

* the predicted S_IoU (``iou_scores``) with the true mask IoU,
* the predicted S_boundary (``boundary_scores``) with the true boundary Dice
  (Eq. 1, predicted and matched GT mask both cropped to the predicted box),
* the classification score (``scores``) and the final mask score
  (``mask_scores``, Eq. 2) with both, the classification score being the
  reference the scorer has to beat.

``--rank-ap`` also scores the same masks (mask AP on those images, COCO's
segm evaluation) ranked three ways: by the classification score, by the
final mask score (what the model outputs), and by an oracle that ranks every
mask by its true IoU with the best GT of its class (0 for the unmatched):
what re-ranking alone can gain, and how much of it Eq. (2) takes, on a
given data set; and by the true IoU with the best GT of any class, the
ranking of a perfect judge of the mask that cannot tell the class (as the
scorer cannot), alone and times the class score (Eq. (2) with such a judge
as its scorer).
"""

import argparse
import copy
import json
import math
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction

import mmb2inst  # noqa: F401
from mmb2inst.structures import boundary_dice
from mmb2inst.utils.run_checks import (UserInputError, friendly_errors,
                                       load_config)

# score field of pred_instances -> name in the report
SCORE_FIELDS = (('scores', 'classification'), ('iou_scores', 'S_IoU'),
                ('boundary_scores', 'S_boundary'), ('mask_scores', 'final'))
TRUTHS = (('iou', 'true mask IoU'), ('dice', 'true boundary Dice'))


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get their average rank).

    Returns NaN with fewer than two pairs or when either side is constant.
    """
    from scipy.stats import spearmanr
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f'length mismatch: {x.shape} vs {y.shape}')
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float('nan')
    return float(spearmanr(x, y).statistic)


def match_predictions(pred_masks: torch.Tensor, pred_labels: torch.Tensor,
                      pred_boxes: torch.Tensor, gt_masks: torch.Tensor,
                      gt_labels: torch.Tensor
                      ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """True quality of each prediction against its best same-class GT.

    Args:
        pred_masks (Tensor): ``(N, H, W)`` bool predicted masks.
        pred_labels (Tensor): ``(N,)`` predicted classes.
        pred_boxes (Tensor): ``(N, 4)`` predicted boxes ``x1, y1, x2, y2``
            in the pixels of the masks.
        gt_masks (Tensor): ``(M, H, W)`` bool GT masks.
        gt_labels (Tensor): ``(M,)`` GT classes.

    Returns:
        tuple: ``matched`` (``(K,)`` indices of the predictions with a
        same-class GT of mask IoU > 0), their ``iou`` (``(K,)``, the largest
        mask IoU) and ``dice`` (``(K,)``, Eq. (1) with that GT, both masks
        cropped to the predicted box).
    """
    num, height, width = pred_masks.shape
    empty = torch.zeros(0)
    if num == 0 or gt_masks.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long), empty, empty
    best_iou, best_gt = same_class_ious(pred_masks, pred_labels, gt_masks,
                                        gt_labels).max(1)
    matched = torch.nonzero(best_iou > 0)[:, 0]
    dices = []
    for i in matched.tolist():
        x1, y1, x2, y2 = pred_boxes[i].tolist()
        x1, y1 = max(0, math.floor(x1)), max(0, math.floor(y1))
        x2, y2 = min(width, math.ceil(x2)), min(height, math.ceil(y2))
        x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
        crop = (slice(y1, y2), slice(x1, x2))
        dices.append(
            boundary_dice(pred_masks[i][crop][None],
                          gt_masks[best_gt[i]][crop][None])[0])
    return matched, best_iou[matched], torch.stack(dices)


def boundary_iou(pred: torch.Tensor,
                 gt: torch.Tensor,
                 dilation_ratio: float = 0.02) -> float:
    """Boundary IoU of two masks (Cheng et al., CVPR 2021), the per-instance
    quality Boundary AP rewards: the IoU of the mask pixels within
    ``d = dilation_ratio * image diagonal`` of each contour.

    Args:
        pred (Tensor): ``(H, W)`` bool.
        gt (Tensor): ``(H, W)`` bool.
    """
    import cv2
    height, width = pred.shape
    d = max(1, int(round(dilation_ratio * math.hypot(height, width))))
    kernel = np.ones((2 * d + 1, 2 * d + 1), np.uint8)

    def inner_band(mask):
        m = mask.numpy().astype(np.uint8)
        # pixels outside the image count as background
        padded = cv2.copyMakeBorder(m, 1, 1, 1, 1, cv2.BORDER_CONSTANT, 0)
        eroded = cv2.erode(padded, kernel)[1:-1, 1:-1]
        return (m - eroded).astype(bool)

    p, g = inner_band(pred), inner_band(gt)
    union = (p | g).sum()
    return float((p & g).sum() / union) if union else 1.


def frame_dices(pred: torch.Tensor, gt: torch.Tensor, box,
                frames: Sequence[int]) -> Dict[str, float]:
    """Eq. (1) of one prediction in the predicted box's own h x w pixels
    (``native``) and in fixed S x S frames (both masks resampled into the
    box at S x S, bilinear, > 0.5, as the scorer's training targets are)."""
    import torch.nn.functional as F
    height, width = pred.shape
    x1, y1, x2, y2 = box
    x1, y1 = max(0, math.floor(x1)), max(0, math.floor(y1))
    x2, y2 = min(width, math.ceil(x2)), min(height, math.ceil(y2))
    x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
    p = pred[y1:y2, x1:x2].float()
    g = gt[y1:y2, x1:x2].float()
    out = dict(native=float(boundary_dice(p[None], g[None])[0]))
    for size in frames:
        both = F.interpolate(
            torch.stack([p, g])[None], (size, size),
            mode='bilinear',
            align_corners=False)[0] > 0.5
        out[f'fixed{size}'] = float(boundary_dice(both[:1], both[1:])[0])
    return out


def frame_study(collected: Dict[str, list], frames: Sequence[int]) -> str:
    """How well Eq. (1) in each frame ranks masks by the qualities the
    metrics reward (Spearman with Boundary IoU and with mask IoU)."""
    lines = [
        'Eq. (1) computed in each frame, Spearman rank correlation with the '
        'true qualities of the matched predictions:',
        f"{'frame':<12}{'vs Boundary IoU':>18}{'vs mask IoU':>14}"
        f"{'mean Dice':>12}"
    ]
    for name in ['native'] + [f'fixed{s}' for s in frames]:
        values = collected[f'frame_{name}']
        lines.append(f'{name:<12}{spearman(values, collected["biou"]):>18.3f}'
                     f'{spearman(values, collected["iou"]):>14.3f}'
                     f'{np.mean(values):>12.3f}')
    return '\n'.join(lines)


def summarize(collected: Dict[str, list]) -> dict:
    """Spearman of every score field with every true quality."""
    report = dict(num_matched=len(collected['iou']))
    for field, _ in SCORE_FIELDS:
        if not collected.get(field):
            continue
        for truth, _ in TRUTHS:
            report[f'{field}_vs_{truth}'] = spearman(collected[field],
                                                     collected[truth])
    return report


def format_report(report: dict) -> str:
    lines = [
        f"{report['num_images']} images, {report['num_predictions']} "
        f"predictions, {report['num_matched']} matched to a GT of their "
        'class. Spearman rank correlation:',
        f"{'score':<16}" + ''.join(f'{name:>22}' for _, name in TRUTHS)
    ]
    for field, name in SCORE_FIELDS:
        keys = [f'{field}_vs_{truth}' for truth, _ in TRUTHS]
        if keys[0] in report:
            lines.append(f'{name:<16}' + ''.join(f'{report[k]:>22.3f}'
                                                 for k in keys))
    return '\n'.join(lines)


# --rank-ap: ranking name -> the prediction field it ranks by ('oracle': the
# true mask IoU with the best GT of the prediction's class; 'mask_oracle':
# with the best GT of any class, what a perfect judge of the mask alone,
# blind to the class as the scorer is, would rank by; 'cls_mask_oracle':
# the class score times that, Eq. (2) with such a judge as the scorer)
RANKINGS = (('scores', 'classification'), ('mask_scores', 'final'),
            ('mask_oracle', 'true IoU, any class'), ('cls_mask_oracle',
                                                     'class x true IoU, any'),
            ('oracle', 'true IoU, its class'))


def _quiet():
    """pycocotools prints every step; the report says what matters."""
    import contextlib
    import io
    return contextlib.redirect_stdout(io.StringIO())


def ranking_ap(gt, img_ids: Sequence[int], dets: list, field: str) -> float:
    """Mask AP (AP@[.5:.95], COCO's segm evaluation on ``img_ids`` against
    the pycocotools ``COCO`` ``gt``) of ``dets`` (dicts with ``image_id``,
    ``category_id``, ``segmentation`` (RLE) and a score per ranking) ranked
    by ``dets[i][field]``; NaN without detections."""
    from pycocotools.cocoeval import COCOeval
    if not dets:
        return float('nan')
    with _quiet():
        res = gt.loadRes([
            dict(
                image_id=d['image_id'],
                category_id=d['category_id'],
                segmentation=d['segmentation'],
                score=d[field]) for d in dets
        ])
        evaluator = COCOeval(gt, res, 'segm')
        evaluator.params.imgIds = list(img_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return float(evaluator.stats[0])


def rank_report(ann_file: str, img_ids: Sequence[int], dets: list) -> dict:
    """``{rank_ap_<field>: mask AP in points}`` for each of
    :data:`RANKINGS` the detections carry (the annotations read once)."""
    from pycocotools.coco import COCO
    if not dets:
        return {}
    with _quiet():
        gt = COCO(ann_file)
    return {
        f'rank_ap_{field}': 100 * ranking_ap(gt, img_ids, dets, field)
        for field, _ in RANKINGS if field in dets[0]
    }


def format_rank_report(report: dict) -> str:
    lines = ['mask AP of the same masks ranked by:']
    for field, name in RANKINGS:
        if f'rank_ap_{field}' in report:
            lines.append(f'  {name:<22}{report[f"rank_ap_{field}"]:6.1f}')
    return '\n'.join(lines)


def gt_at_original_size(info: dict, ori_shape: Tuple[int, int]):
    """GT masks ``(M, H, W)`` bool and labels ``(M,)`` of one image,
    rasterised at the original size; crowd / ignored instances dropped."""
    from mmdet.datasets.transforms import LoadAnnotations
    results = LoadAnnotations(
        with_bbox=True, with_label=True, with_mask=True)(
            dict(
                instances=copy.deepcopy(info['instances']),
                ori_shape=tuple(ori_shape)))
    keep = torch.from_numpy(~results['gt_ignore_flags'])
    masks = torch.from_numpy(results['gt_masks'].to_ndarray()).bool()
    labels = torch.from_numpy(results['gt_bboxes_labels']).long()
    if masks.shape[0] == 0:
        masks = torch.zeros((0, *ori_shape), dtype=torch.bool)
    return masks[keep], labels[keep]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument(
        '--num', type=int, default=None, help='test images (default: all)')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.05,
        help='classification score threshold of the detector')
    parser.add_argument('--out', help='write the numbers to this json file')
    parser.add_argument(
        '--frames',
        type=int,
        nargs='*',
        default=(),
        help='also compare Eq. (1) in the box\'s own pixels with fixed S x S '
        'frames (e.g. 14 28 56) by how they rank masks against Boundary IoU')
    parser.add_argument(
        '--rank-ap',
        action='store_true',
        help='also the mask AP of the same masks ranked by the class score, '
        'by the final score and by their true IoU (an oracle)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    return parser.parse_args()


def run(cfg: Config,
        checkpoint: str,
        num: Optional[int] = None,
        score_thr: float = 0.05,
        config_name: Optional[str] = None,
        frames: Sequence[int] = (),
        rank_ap: bool = False) -> dict:
    """Predict on the test set and collect the scores and true qualities
    (and with ``rank_ap`` the masks' AP under each of :data:`RANKINGS`)."""
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate

    from mmb2inst.utils.checkpoint import load_detector

    model = load_detector(cfg, checkpoint, config_name)
    model.bbox_head.test_cfg.score_thr = score_thr
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    total = len(dataset) if num is None else min(num, len(dataset))
    collected = {k: [] for k in [f for f, _ in SCORE_FIELDS] + ['iou', 'dice']}
    num_predictions = 0
    dets, img_ids = [], []
    for idx in range(total):
        with torch.no_grad():
            sample = model.test_step(pseudo_collate([dataset[idx]]))[0]
        pred = sample.pred_instances
        num_predictions += len(pred)
        info = dataset.get_data_info(idx)
        gt_masks, gt_labels = gt_at_original_size(
            info, sample.metainfo['ori_shape'][:2])
        matched, ious, dices = match_predictions(pred.masks.bool(),
                                                 pred.labels, pred.bboxes,
                                                 gt_masks, gt_labels)
        collected['iou'] += ious.tolist()
        collected['dice'] += dices.tolist()
        if frames:
            best = _best_gt(pred.masks.bool(), pred.labels, gt_masks,
                            gt_labels)
            for i in matched.tolist():
                p, g = pred.masks[i].bool(), gt_masks[best[i]]
                collected.setdefault('biou', []).append(boundary_iou(p, g))
                for k, v in frame_dices(p, g, pred.bboxes[i].tolist(),
                                        frames).items():
                    collected.setdefault(f'frame_{k}', []).append(v)
        for field, _ in SCORE_FIELDS:
            if field in pred:
                collected[field] += pred[field][matched].tolist()
        if rank_ap:
            img_ids.append(info['img_id'])
            dets += detections(pred, gt_masks, gt_labels, info['img_id'],
                               dataset.cat_ids)
    report = summarize(collected)
    report.update(num_images=total, num_predictions=num_predictions)
    if rank_ap:
        # the annotations of the images predicted on (data_root joined)
        report.update(rank_report(dataset.ann_file, img_ids, dets))
    if frames:
        report['frame_study'] = frame_study(collected, frames)
    return report


def detections(pred, gt_masks: torch.Tensor, gt_labels: torch.Tensor,
               img_id: int, cat_ids: Sequence[int]) -> list:
    """One image's predictions as COCO results (RLE masks at the original
    size) with a score per ranking of :data:`RANKINGS`."""
    from pycocotools import mask as mask_utils
    masks = pred.masks.bool()
    if len(masks) == 0:
        return []
    if len(gt_masks):
        oracle = same_class_ious(masks, pred.labels, gt_masks,
                                 gt_labels).amax(1)
        mask_oracle = same_class_ious(masks, pred.labels.new_zeros(
            len(masks)), gt_masks, gt_labels.new_zeros(len(gt_masks))).amax(1)
    else:
        oracle = mask_oracle = masks.new_zeros(len(masks), dtype=torch.float)
    rles = mask_utils.encode(
        np.asfortranarray(masks.permute(1, 2, 0).numpy().astype(np.uint8)))
    out = []
    for i, rle in enumerate(rles):
        rle['counts'] = rle['counts'].decode()
        det = dict(
            image_id=img_id,
            category_id=cat_ids[int(pred.labels[i])],
            segmentation=rle,
            scores=float(pred.scores[i]),
            oracle=float(oracle[i]),
            mask_oracle=float(mask_oracle[i]),
            cls_mask_oracle=float(pred.scores[i] * mask_oracle[i]))
        if 'mask_scores' in pred:
            det['mask_scores'] = float(pred.mask_scores[i])
        out.append(det)
    return out


def same_class_ious(pred_masks, pred_labels, gt_masks, gt_labels):
    """``(N, M)`` mask IoUs of predictions and GTs, 0 across classes."""
    pred = pred_masks.flatten(1).float()
    gt = gt_masks.flatten(1).float()
    inter = pred @ gt.t()
    union = pred.sum(1, keepdim=True) + gt.sum(1)[None] - inter
    ious = inter / union.clamp(min=1)
    ious[pred_labels[:, None] != gt_labels[None]] = 0
    return ious


def _best_gt(pred_masks, pred_labels, gt_masks, gt_labels):
    """Index of each prediction's best same-class GT (by mask IoU)."""
    return same_class_ious(pred_masks, pred_labels, gt_masks,
                           gt_labels).argmax(1).tolist()


def main():
    args = parse_args()
    with friendly_errors():
        for path in (args.config, args.checkpoint):
            if not osp.isfile(path):
                raise UserInputError(f'{path} does not exist.')
        cfg = load_config(args.config, args.cfg_options)
        report = run(cfg, args.checkpoint, args.num, args.score_thr,
                     args.config, args.frames, args.rank_ap)
        report.update(config=args.config, checkpoint=args.checkpoint)
        print(format_report(report))
        if args.rank_ap:
            print('\n' + format_rank_report(report))
        if 'frame_study' in report:
            print('\n' + report['frame_study'])
        if args.out:
            # NaN (undefined correlation) is written as null.
            report = {
                k: None if isinstance(v, float) and math.isnan(v) else v
                for k, v in report.items()
            }
            with open(args.out, 'w') as f:
                json.dump(report, f, indent=2)
            print(f'written to {args.out}')


if __name__ == '__main__':
    main()
