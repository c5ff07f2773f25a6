"""BlendMask's detection head: FCOS plus the attention "top layer"."""
import torch
from mmdet.models.dense_heads import CondInstBboxHead
from mmdet.registry import MODELS
from mmengine.structures import InstanceData

from mmb2inst.errors import ConfigError


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
    - scores detections ``sqrt(cls * centerness)`` (AdelaiDet's test score;
      mmdet's FCOS uses the product without the root). The ranking, hence
      NMS, is the same.

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

    def _bbox_post_process(self, results: InstanceData, *args,
                           **kwargs) -> InstanceData:
        with_ctr = 'score_factors' in results
        results = super()._bbox_post_process(results, *args, **kwargs)
        if with_ctr:
            results.scores = torch.sqrt(results.scores)
        return results
