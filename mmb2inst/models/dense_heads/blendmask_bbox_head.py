"""BlendMask's detection head: FCOS plus the attention "top layer"."""
import copy
from typing import List

import torch
from mmdet.models.dense_heads import CondInstBboxHead
from mmdet.models.utils import filter_scores_and_topk
from mmdet.registry import MODELS
from mmdet.structures.bbox import distance2bbox
from mmengine.logging import print_log
from mmengine.structures import InstanceData
from torch import Tensor

from mmb2inst.errors import ConfigError
from ..utils import fill_first_bases


@MODELS.register_module()
class BlendMaskBboxHead(CondInstBboxHead):
    """FCOS with BlendMask's attention top layer (AdelaiDet's design).

    mmdet's ``CondInstBboxHead`` already is FCOS with one extra 3x3 conv on
    the regression ("bbox") tower of every level that predicts per-location
    instance parameters, and it hands the positives to the mask head; for
    BlendMask those parameters are the ``K x M x M`` attention maps. On top
    of it this head

    - samples positives around the *box* centre (AdelaiDet's FCOS), not the
      mask centroid CondInst uses;
    - selects detections as AdelaiDet's BlendMask (``THRESH_WITH_CTR``):
      per level, the (location, class) pairs whose class x centerness
      exceeds ``test_cfg.score_thr`` enter the top ``nms_pre`` by that
      product (mmdet's FCOS thresholds and ranks the class score alone);
      boxes are not clipped before NMS and the blender pools with the
      unclipped boxes (the mask head clips after rescaling, as Detectron2's
      post-processing); the score is ``sqrt(cls * centerness)`` (mmdet's
      FCOS uses the product; the ranking, hence NMS, is the same);
    - loads a baseline's attention layer (K maps) into a B2Inst one
      (K + 1 maps, the boundary basis last): the first K maps are the
      baseline's, the boundary basis's keeps its initialisation.

    Args:
        num_bases (int): Bases the attentions weigh (K, +1 when the boundary
            basis is used for composition); must equal the mask head's.
        attn_size (int): Attention resolution M (7 in the paper, 14 in
            AdelaiDet); must equal the mask head's.
        **kwargs: The arguments of ``FCOSHead``.
    """

    def __init__(self,
                 *args,
                 num_bases: int = 4,
                 attn_size: int = 7,
                 **kwargs) -> None:
        if 'num_params' in kwargs:
            raise ConfigError(
                'model.bbox_head.num_params is not an option of '
                'BlendMaskBboxHead; set model.bbox_head.num_bases and '
                'model.bbox_head.attn_size, num_params (= num_bases * '
                'attn_size ** 2) follows from them.')
        self.num_bases = num_bases
        self.attn_size = attn_size
        super().__init__(*args, num_params=num_bases * attn_size**2, **kwargs)

    def _get_targets_single(self, gt_instances: InstanceData, *args, **kwargs):
        boxes_only = InstanceData(
            bboxes=gt_instances.bboxes, labels=gt_instances.labels)
        return super()._get_targets_single(boxes_only, *args, **kwargs)

    def adapt_state_dict(self,
                         state_dict: dict,
                         prefix: str = '',
                         log: bool = True) -> dict:
        """Fit a K-basis attention layer of ``state_dict`` (``prefix``:
        this head's) to this head's K + 1 maps, in place: the first K are
        the checkpoint's, the last keeps this head's current values."""
        for name, param in self.controller.named_parameters():
            key = f'{prefix}controller.{name}'
            # channels are basis-major: one block of M * M per basis
            if not fill_first_bases(state_dict, key, param, 1, self.num_bases):
                continue
            if log:
                print_log(
                    f'{key}: the {self.num_bases - 1} attention '
                    f'maps of the checkpoint loaded into the first of '
                    f'{self.num_bases}; the last (the boundary basis) keeps '
                    'its initialisation',
                    logger='current')
        return state_dict

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self.adapt_state_dict(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _predict_by_feat_single(self,
                                cls_score_list: List[Tensor],
                                bbox_pred_list: List[Tensor],
                                score_factor_list: List[Tensor],
                                param_pred_list: List[Tensor],
                                mlvl_points: List[Tensor],
                                mlvl_strides: List[Tensor],
                                img_meta: dict,
                                cfg=None,
                                rescale: bool = False,
                                with_nms: bool = True) -> InstanceData:
        """One image's detections, selected as AdelaiDet's BlendMask.

        Per level ``(C, H, W)`` class logits, ``(4, H, W)`` distances (image
        pixels), ``(1, H, W)`` centerness logits and ``(num_params, H, W)``
        attentions. Returns ``bboxes`` ``(N, 4)`` (not clipped), ``scores``
        ``sqrt(cls * centerness)``, ``labels``, ``param_preds``, ``points``
        and ``strides``.
        """
        cfg = copy.deepcopy(self.test_cfg if cfg is None else cfg)
        nms_pre = cfg.get('nms_pre', -1)
        score_thr = cfg.get('score_thr', 0)
        fields = dict(
            scores=[],
            labels=[],
            bbox_pred=[],
            param_pred=[],
            points=[],
            strides=[])
        for cls_score, bbox_pred, ctr, param_pred, points, strides in zip(
                cls_score_list, bbox_pred_list, score_factor_list,
                param_pred_list, mlvl_points, mlvl_strides):
            ctr = ctr.permute(1, 2, 0).reshape(-1, 1).sigmoid()
            scores = cls_score.permute(1, 2, 0).reshape(
                -1, self.cls_out_channels).sigmoid() * ctr
            scores, labels, _, kept = filter_scores_and_topk(
                scores, score_thr, nms_pre,
                dict(
                    bbox_pred=bbox_pred.permute(1, 2, 0).reshape(-1, 4),
                    param_pred=param_pred.permute(1, 2, 0).reshape(
                        -1, self.num_params),
                    points=points,
                    strides=strides))
            fields['scores'].append(scores)
            fields['labels'].append(labels)
            for key, value in kept.items():
                fields[key].append(value)
        fields = {k: torch.cat(v) for k, v in fields.items()}
        results = InstanceData(
            bboxes=distance2bbox(fields['points'], fields['bbox_pred']),
            scores=fields['scores'],
            labels=fields['labels'],
            param_preds=fields['param_pred'],
            points=fields['points'],
            strides=fields['strides'])
        results = self._bbox_post_process(
            results=results,
            cfg=cfg,
            rescale=rescale,
            with_nms=with_nms,
            img_meta=img_meta)
        results.scores = torch.sqrt(results.scores)
        return results
