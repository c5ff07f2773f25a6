"""B2Inst-YOLACT: mmdet's YOLACT with the boundary-basis protonet."""
from mmdet.models.detectors import YOLACT
from mmdet.registry import MODELS

from .boundary_maps import BoundaryMapsMixin, default_of

# mmdet's YOLACTProtonet default: 32 prototypes from the last conv.
DEFAULT_PROTO_CHANNELS = (256, 256, 256, None, 256, 32)


def num_yolact_bases(mask_head: dict) -> int:
    """Bases an instance mask is composed of: the protonet's prototypes,
    + 1 when the boundary map is used as a basis."""
    protos = mask_head.get('proto_channels', DEFAULT_PROTO_CHANNELS)[-1]
    boundary = mask_head.get('boundary')
    as_basis = boundary is not None and boundary.get(
        'use_as_basis', default_of('BoundaryBasis', 'use_as_basis'))
    return protos + int(as_basis)


@MODELS.register_module()
class B2InstYOLACT(BoundaryMapsMixin, YOLACT):
    """YOLACT whose mask head is a ``B2InstYOLACTProtonet``.

    The number of coefficients per instance (``bbox_head.num_protos``) and
    of bases (``mask_head.num_protos``) is derived from the mask head: its
    prototypes (``proto_channels[-1]``), + 1 when
    ``mask_head.boundary.use_as_basis``. Configs state K once.

    Training is mmdet's (``SingleStageInstanceSegmentor``); at test time the
    predicted holistic boundary map is stored in each data sample as
    ``pred_boundary`` (``PixelData``, ``(1, h, w)`` probabilities at the
    prototype stride) for visualisation.
    """

    def __init__(self, *args, bbox_head: dict, mask_head: dict,
                 **kwargs) -> None:
        num = num_yolact_bases(mask_head)
        super().__init__(
            *args,
            bbox_head=dict(bbox_head, num_protos=num),
            mask_head=dict(mask_head, num_protos=num),
            **kwargs)
