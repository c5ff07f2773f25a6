"""BlendMask (Chen et al., CVPR 2020) and B2Inst-BlendMask in mmdet 3.x."""
from mmdet.models.detectors.single_stage_instance_seg import \
    SingleStageInstanceSegmentor
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from torch import Tensor

from .boundary_maps import move_boundary_maps


@MODELS.register_module()
class BlendMask(SingleStageInstanceSegmentor):
    """FCOS with attention (``BlendMaskBboxHead``) + basis module and
    blender (``BlendMaskHead``).

    B2Inst-BlendMask is this detector with ``mask_head.boundary`` (and
    ``mask_head.scorer``) set; at test time its holistic boundary map is
    stored in each data sample as ``pred_boundary``.

    The heads must agree on the attention layout: ``bbox_head.num_bases``
    (attention maps per instance) equals ``mask_head``'s number of bases
    (K, +1 with the boundary basis) and both use the same ``attn_size``;
    a mismatch is reported when the model is built.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for key in ('num_bases', 'attn_size'):
            det = getattr(self.bbox_head, key, None)
            mask = getattr(self.mask_head, key, None)
            if det is not None and mask is not None and det != mask:
                extra = (' (mask_head.num_bases + 1 when mask_head.boundary '
                         'is used as a basis)' if key == 'num_bases' else '')
                raise ValueError(
                    f'BlendMask: bbox_head.{key}={det} but the mask head '
                    f'blends with {key}={mask}; set bbox_head.{key} to '
                    f'{mask}{extra}.')

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        return move_boundary_maps(super().predict(batch_inputs,
                                                  batch_data_samples, rescale))
