# Copyright (c) mmb2inst contributors. All rights reserved.
"""Boundary AP (Cheng et al., CVPR 2021) as an MMEngine metric.

Boundary IoU compares only the pixels within a distance ``d`` of each
contour (``d`` a fixed fraction of the image diagonal), and Boundary AP runs
COCO's AP protocol with ``min(mask IoU, boundary IoU)`` as the IoU of a
detection. Its boundary is the mask minus its erosion by a ``(2d+1) x
(2d+1)`` square (pixels outside the image counting as background), not the
3x3 Laplacian boundary B2Inst trains with. The evaluation is
``faster-coco-eval``'s ``iouType='boundary'``.
"""
import itertools
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from faster_coco_eval import COCO, COCOeval_faster
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.fileio import dump, get_local_path
from mmengine.logging import MMLogger
from pycocotools import mask as mask_util
from terminaltables import AsciiTable

# Metric item -> key of ``COCOeval_faster.stats_as_dict``; the item names are
# those of mmdet's CocoMetric, so ``boundary/boundary_mAP`` reads like
# ``coco/segm_mAP``.
_STAT_KEYS = OrderedDict(
    mAP='AP_all',
    mAP_50='AP_50',
    mAP_75='AP_75',
    mAP_s='AP_small',
    mAP_m='AP_medium',
    mAP_l='AP_large')
_IOU_TYPES = ('boundary', 'segm', 'bbox')


@METRICS.register_module()
class BoundaryAPMetric(BaseMetric):
    """Boundary AP, optionally with mask and box AP, by faster-coco-eval.

    Used beside (or instead of) mmdet's ``CocoMetric``::

        val_evaluator = [
            dict(type='CocoMetric', ann_file=ann_file,
                 metric=['bbox', 'segm']),
            dict(type='BoundaryAPMetric', ann_file=ann_file,
                 dilation_ratio=0.02),
        ]

    which adds ``boundary/boundary_mAP``, ``boundary/boundary_mAP_50``,
    ``_75``, ``_s``, ``_m`` and ``_l`` to the evaluation results.

    A detection's boundary is its mask minus the mask eroded by a
    ``(2d+1) x (2d+1)`` square, ``d = max(1, round(dilation_ratio *
    sqrt(H**2 + W**2)))`` (``H, W``: image size), outside the image counting
    as background (as the authors' boundary-iou-api does; faster-coco-eval
    rounds an exact ``x.5`` down where the API rounds half to even). Its IoU
    with a ground truth is ``min(mask IoU, boundary IoU)`` (plain mask IoU
    for crowd regions). Everything else is COCO's protocol: IoU thresholds
    0.50:0.05:0.95, at most 100 detections per image, area ranges by mask
    area. mmdet's ``CocoMetric`` keeps up to 1000 detections per image; the
    two agree whenever the model outputs at most 100.

    Args:
        ann_file (str): COCO-format json with the ground-truth masks of the
            evaluated split. Required: the ground truth is not rebuilt from
            the data samples.
        dilation_ratio (float): ``d`` as a fraction of the image diagonal.
            Defaults to 0.02, the value of the Boundary IoU paper.
        iou_types (str | Sequence[str]): What to evaluate, among
            ``'boundary'`` (Boundary AP), ``'segm'`` (mask AP) and
            ``'bbox'`` (box AP); the last two give mmdet's ``CocoMetric``
            numbers, computed by faster-coco-eval. Defaults to
            ``('boundary',)``.
        classwise (bool): Also log a per-class table and report each
            class's AP as ``{iou_type}_{class}_precision``. Defaults to
            False.
        outfile_prefix (str, optional): When given, the detections of each
            ``iou_type`` are also written, in COCO's results format, to
            ``{outfile_prefix}.{iou_type}.json``: the exact input of the
            evaluation. Defaults to None.
        backend_args (dict, optional): Arguments of the file backend that
            reads ``ann_file``. Defaults to None.
        collect_device (str): Device used to collect results across ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to
            None, i.e. ``'boundary'``.
    """
    default_prefix: Optional[str] = 'boundary'

    def __init__(self,
                 ann_file: Optional[str] = None,
                 dilation_ratio: float = 0.02,
                 iou_types: Union[str, Sequence[str]] = ('boundary', ),
                 classwise: bool = False,
                 outfile_prefix: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if isinstance(iou_types, str):
            iou_types = (iou_types, )
        self.iou_types = tuple(iou_types)
        for iou_type in self.iou_types:
            if iou_type not in _IOU_TYPES:
                raise KeyError(f'iou_types must be among {_IOU_TYPES}, got '
                               f'{iou_type!r}')
        if dilation_ratio <= 0:
            raise ValueError(
                f'dilation_ratio must be > 0, got {dilation_ratio}')
        self.dilation_ratio = dilation_ratio
        self.classwise = classwise
        self.outfile_prefix = outfile_prefix

        if ann_file is None:
            raise ValueError(
                'BoundaryAPMetric needs ann_file, the COCO json of the '
                'evaluated split (e.g. data_root + '
                "'annotations/instances_val.json'): Boundary AP compares "
                'the predicted masks with the ground-truth masks stored '
                'there.')
        with get_local_path(ann_file, backend_args=backend_args) as path:
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'BoundaryAPMetric: ann_file {ann_file!r} not found.')
            self._coco_api = COCO(path)
        self.ann_file = ann_file
        # Resolved on the first evaluation, when dataset_meta is known.
        self.cat_ids: Optional[List[int]] = None

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Encode a batch of predictions as RLEs and keep them.

        Args:
            data_batch (dict): A batch from the dataloader (unused).
            data_samples (Sequence[dict]): The model's outputs, each with
                ``img_id``, ``ori_shape`` and ``pred_instances`` holding
                ``masks`` ((N, H, W) bool tensor at the original image size,
                or a list of N RLE dicts), ``scores`` (N, ), ``labels``
                (N, ), ``bboxes`` ((N, 4) ``x1, y1, x2, y2``, needed for
                ``'bbox'`` only) and optionally ``mask_scores`` (N, ),
                which replace ``scores`` for masks, as in ``CocoMetric``.
        """
        needs_masks = any(t != 'bbox' for t in self.iou_types)
        for data_sample in data_samples:
            pred = data_sample['pred_instances']
            result = dict(
                img_id=data_sample['img_id'],
                labels=_to_numpy(pred['labels']),
                scores=_to_numpy(pred['scores']))
            result['mask_scores'] = (
                _to_numpy(pred['mask_scores'])
                if 'mask_scores' in pred else result['scores'])
            if 'bbox' in self.iou_types:
                result['bboxes'] = _to_numpy(pred['bboxes'])
            if needs_masks:
                if 'masks' not in pred:
                    raise KeyError(
                        'BoundaryAPMetric needs pred_instances.masks for '
                        f'iou_types {self.iou_types}.')
                result['masks'] = self._encode_masks(
                    pred['masks'], data_sample.get('ori_shape'))
            self.results.append(result)

    @staticmethod
    def _encode_masks(masks: Union[torch.Tensor, list],
                      ori_shape: Optional[Sequence[int]]) -> List[dict]:
        """(N, H, W) masks -> N RLE dicts; RLE lists pass through."""
        if not isinstance(masks, torch.Tensor):
            return list(masks)
        if ori_shape is not None and tuple(masks.shape[-2:]) != tuple(
                ori_shape[:2]):
            # Masks of the resized input would be compared with
            # ground truth of another size: fail instead of scoring noise.
            raise ValueError(
                f'pred_instances.masks have size {tuple(masks.shape[-2:])} '
                f'but the image is {tuple(ori_shape[:2])}; predict with '
                'rescale=True so that masks are at the original size.')
        if masks.is_floating_point():
            masks = masks >= 0.5
        masks = masks.detach().cpu().numpy().astype(np.uint8)
        # One call for all instances: pycocotools wants (H, W, N), Fortran.
        return mask_util.encode(np.asfortranarray(masks.transpose(1, 2, 0)))

    def _resolve_cat_ids(self) -> List[int]:
        """Category id of each label, the order used by mmdet's datasets."""
        classes = (self.dataset_meta or {}).get('classes')
        if classes is None:
            # No dataset (a metric used on its own): labels index the
            # categories in the order of the json file.
            return self._coco_api.get_cat_ids()
        cat_ids = self._coco_api.get_cat_ids(cat_names=classes)
        if len(cat_ids) != len(classes):
            missing = set(classes) - {
                c['name']
                for c in self._coco_api.loadCats(cat_ids)
            }
            raise ValueError(f'classes {sorted(missing)} of the dataset are '
                             f'not categories of {self.ann_file}.')
        return cat_ids

    def results2dets(self, results: Sequence[dict],
                     iou_type: str) -> List[dict]:
        """The kept predictions as COCO result dicts.

        Masks carry no ``bbox``: COCO would then take the box area instead
        of the mask area for the small/medium/large split (the reason
        mmdet's CocoMetric drops it too).

        Args:
            results (Sequence[dict]): What :meth:`process` kept.
            iou_type (str): ``'boundary'``, ``'segm'`` or ``'bbox'``.

        Returns:
            list[dict]: One dict per detection with ``image_id``,
            ``category_id``, ``score`` and ``segmentation`` (an RLE) or
            ``bbox`` (``x, y, w, h``).
        """
        if self.cat_ids is None:
            self.cat_ids = self._resolve_cat_ids()
        dets = []
        for result in results:
            if iou_type == 'bbox':
                scores, regions = result['scores'], [[
                    x1, y1, x2 - x1, y2 - y1
                ] for x1, y1, x2, y2 in result['bboxes'].tolist()]
                key = 'bbox'
            else:
                scores, regions = result['mask_scores'], result['masks']
                key = 'segmentation'
            for label, score, region in zip(result['labels'].tolist(),
                                            scores.tolist(), regions):
                dets.append({
                    'image_id': result['img_id'],
                    'category_id': self.cat_ids[label],
                    'score': score,
                    key: region
                })
        return dets

    def run_cocoeval(self, dets: List[dict], iou_type: str) -> COCOeval_faster:
        """Evaluate COCO result dicts against ``ann_file``.

        Args:
            dets (list[dict]): Output of :meth:`results2dets`, not empty.
            iou_type (str): ``'boundary'``, ``'segm'`` or ``'bbox'``.

        Returns:
            COCOeval_faster: The summarized evaluation; its
            ``ious[(img_id, cat_id)]`` is the (num_dets, num_gts) IoU
            matrix used for matching (for ``'boundary'``, the minimum of
            mask and boundary IoU), detections sorted by descending score.
        """
        logger = MMLogger.get_current_instance()
        coco_dt = self._coco_api.loadRes(dets)
        coco_eval = COCOeval_faster(
            self._coco_api,
            coco_dt,
            iouType=iou_type,
            print_function=logger.info,
            boundary_dilation_ratio=self.dilation_ratio)
        coco_eval.params.catIds = self.cat_ids
        coco_eval.params.imgIds = self._coco_api.get_img_ids()
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
        return coco_eval

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Compute the APs of every ``iou_type``.

        Args:
            results (list): What :meth:`process` kept, one dict per image.

        Returns:
            dict[str, float]: ``{iou_type}_mAP``, ``_mAP_50``, ``_mAP_75``,
            ``_mAP_s``, ``_mAP_m``, ``_mAP_l`` per ``iou_type`` (-1 for an
            area range without ground truth, as in COCO), rounded to 3
            decimals like ``CocoMetric``; all 0 when nothing was detected.
        """
        logger = MMLogger.get_current_instance()
        eval_results = OrderedDict()
        detected = sum(len(result['labels']) for result in results) > 0
        dets = {
            t: self.results2dets(results, t)
            for t in self.iou_types
        } if detected or self.outfile_prefix is not None else {}
        if self.outfile_prefix is not None:
            for iou_type in self.iou_types:
                path = f'{self.outfile_prefix}.{iou_type}.json'
                dump(_jsonable(dets[iou_type]), path)
                logger.info(f'{iou_type} detections written to {path}')
        if not detected:
            logger.warning(
                f'BoundaryAPMetric: no detection in the {len(results)} '
                f'evaluated images; reporting 0 for {self.iou_types}.')
            for iou_type, item in itertools.product(self.iou_types,
                                                    _STAT_KEYS):
                eval_results[f'{iou_type}_{item}'] = 0.0
            return eval_results

        for iou_type in self.iou_types:
            logger.info(f'Evaluating {iou_type} AP (faster-coco-eval)...')
            coco_eval = self.run_cocoeval(dets[iou_type], iou_type)
            stats = coco_eval.stats_as_dict
            for item, stat_key in _STAT_KEYS.items():
                eval_results[f'{iou_type}_{item}'] = round(
                    float(stats[stat_key]), 3)
            if self.classwise:
                eval_results.update(
                    self._classwise_ap(coco_eval.eval['precision'], iou_type,
                                       logger))
            values = ' '.join(f'{stats[k]:.3f}' for k in _STAT_KEYS.values())
            logger.info(f'{iou_type}_mAP_copypaste: {values}')
        return eval_results

    def _classwise_ap(self, precision: np.ndarray, iou_type: str,
                      logger: MMLogger) -> Dict[str, float]:
        """Per-class AP from COCO's precision array.

        Args:
            precision (np.ndarray): Shape (T, R, K, A, M): IoU thresholds,
                recall thresholds, classes (order of ``self.cat_ids``), area
                ranges (all, small, medium, large), max detections.
            iou_type (str): Used in the result keys and the table title.
            logger (MMLogger): Where the table goes.

        Returns:
            dict[str, float]: ``{iou_type}_{class}_precision``: the class's
            AP over all IoU thresholds and areas (nan without ground truth).
        """

        def mean_ap(p: np.ndarray) -> float:
            p = p[p > -1]
            return float(np.mean(p)) if p.size else float('nan')

        rows, out = [], {}
        for k, cat_id in enumerate(self.cat_ids):
            name = self._coco_api.loadCats(cat_id)[0]['name']
            aps = [
                mean_ap(precision[:, :, k, 0, -1]),
                mean_ap(precision[0, :, k, 0, -1]),  # IoU 0.50
                mean_ap(precision[5, :, k, 0, -1]),  # IoU 0.75
            ] + [mean_ap(precision[:, :, k, a, -1]) for a in (1, 2, 3)]
            out[f'{iou_type}_{name}_precision'] = round(aps[0], 3)
            rows.append([name] + [f'{ap:.3f}' for ap in aps])
        table = AsciiTable(
            [['category'] + list(_STAT_KEYS)] + rows, title=f' {iou_type} ')
        logger.info('\n' + table.table)
        return out


def _jsonable(dets: List[dict]) -> List[dict]:
    """COCO result dicts with RLE ``counts`` as ``str`` (pycocotools gives
    ``bytes``), as COCO's results files store them."""
    out = []
    for det in dets:
        rle = det.get('segmentation')
        if rle is not None and isinstance(rle.get('counts'), bytes):
            det = dict(
                det, segmentation=dict(rle, counts=rle['counts'].decode()))
        out.append(det)
    return out


def _to_numpy(x: Union[torch.Tensor, np.ndarray]) -> np.ndarray:
    """A tensor (any device) or array as a numpy array."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
