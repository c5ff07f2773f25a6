"""BlendMask (Chen et al., CVPR 2020) and B2Inst-BlendMask in mmdet 3.x."""
from mmdet.models.detectors.single_stage_instance_seg import \
    SingleStageInstanceSegmentor
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from torch import Tensor

from mmb2inst.errors import ConfigError
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
        attn = getattr(self.bbox_head, 'attn_size', None)
        blend = getattr(self.mask_head, 'attn_size', None)
        if None not in (attn, blend) and attn != blend:
            raise ConfigError(
                f'model.bbox_head.attn_size={attn} but model.mask_head.'
                f"attn_size={blend}: the blender reads the detection head's "
                'M x M attentions, both must be the same M (7 in the '
                f'paper); set both to {blend}, or both to {attn}.')
        attns = getattr(self.bbox_head, 'num_bases', None)
        bases = getattr(self.mask_head, 'num_bases', None)
        if None not in (attns, bases) and attns != bases:
            boundary = getattr(self.mask_head, 'boundary', None)
            if boundary is not None and boundary.use_as_basis:
                why = (f'model.mask_head.num_bases={bases - 1} + 1 boundary '
                       'basis, as model.mask_head.boundary.use_as_basis='
                       'True')
            else:
                why = f'model.mask_head.num_bases={bases}'
            raise ConfigError(
                f'model.bbox_head.num_bases={attns} attention maps per '
                f'instance but the mask head blends {bases} bases ({why}); '
                f'set model.bbox_head.num_bases={bases}.')

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        return move_boundary_maps(super().predict(batch_inputs,
                                                  batch_data_samples, rescale))
