"""BlendMask (Chen et al., CVPR 2020) and B2Inst-BlendMask in mmdet 3.x."""
from mmdet.models.detectors.single_stage_instance_seg import \
    SingleStageInstanceSegmentor
from mmdet.registry import MODELS

from .boundary_maps import BoundaryMapsMixin, default_of


@MODELS.register_module()
class BlendMask(BoundaryMapsMixin, SingleStageInstanceSegmentor):
    """FCOS with attention (``BlendMaskBboxHead``) + basis module and
    blender (``BlendMaskHead``).

    B2Inst-BlendMask is this detector with ``mask_head.boundary`` (and
    ``mask_head.scorer``) set; at test time its holistic boundary map is
    stored in each data sample as ``pred_boundary``.

    The detection head's attention layout is derived from the mask head:
    ``bbox_head.num_bases`` (attention maps per instance) is the mask head's
    K bases, + 1 when ``mask_head.boundary.use_as_basis``, and
    ``bbox_head.attn_size`` is ``mask_head.attn_size`` (M). Configs state K
    and M once, on the mask head.
    """

    def __init__(self, *args, bbox_head: dict, mask_head: dict,
                 **kwargs) -> None:
        boundary = mask_head.get('boundary')
        as_basis = boundary is not None and boundary.get(
            'use_as_basis', default_of('BoundaryBasis', 'use_as_basis'))
        num_bases = mask_head.get('num_bases',
                                  default_of('BlendMaskHead', 'num_bases'))
        attn_size = mask_head.get('attn_size',
                                  default_of('BlendMaskHead', 'attn_size'))
        super().__init__(
            *args,
            bbox_head=dict(
                bbox_head,
                num_bases=num_bases + int(as_basis),
                attn_size=attn_size),
            mask_head=mask_head,
            **kwargs)
