"""B2Inst-YOLACT: mmdet's YOLACT with the boundary-basis protonet."""
from mmdet.models.detectors import YOLACT
from mmdet.registry import MODELS
from mmengine.logging import print_log

from ..utils import fill_first_bases
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

    A YOLACT checkpoint loads with ``load_from``: mmdet 3.x's, and mmdet's
    published ones (written by mmdet 2.x, whose semantic-segmentation head
    ``segm_head.segm_conv`` is ``mask_head.segm_branch.segm_conv`` now).
    Their coefficient layer (K per anchor) fills the first K of the K + 1
    coefficients per anchor; the boundary basis's coefficient and the B2Inst
    modules keep their initialisation.
    """

    def __init__(self, *args, bbox_head: dict, mask_head: dict,
                 **kwargs) -> None:
        num = num_yolact_bases(mask_head)
        super().__init__(
            *args,
            bbox_head=dict(bbox_head, num_protos=num),
            mask_head=dict(mask_head, num_protos=num),
            **kwargs)

    def adapt_state_dict(self,
                         state_dict: dict,
                         prefix: str = '',
                         log: bool = True) -> dict:
        """Fit a YOLACT checkpoint's ``state_dict`` (``prefix``: this
        model's) to this model, in place: mmdet 2.x's ``segm_head.segm_conv``
        renamed; K coefficients per anchor into the first K of K + 1 (the
        last keeps this model's current values)."""
        for key in list(state_dict):
            if key.startswith(f'{prefix}segm_head.segm_conv.'):
                new = key.replace(f'{prefix}segm_head.',
                                  f'{prefix}mask_head.segm_branch.', 1)
                state_dict[new] = state_dict.pop(key)
        head = self.bbox_head
        anchors, num = head.num_base_priors, head.num_protos
        for name, param in head.conv_coeff.named_parameters():
            key = f'{prefix}bbox_head.conv_coeff.{name}'
            # channels are anchor-major: (anchor, coefficient)
            if not fill_first_bases(state_dict, key, param, anchors, num):
                continue
            if log:
                print_log(
                    f'{key}: the checkpoint\'s {num - 1} coefficients per '
                    f'anchor loaded into the first of {num}; the last (the '
                    'boundary basis) keeps its initialisation',
                    logger='current')
        return state_dict

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self.adapt_state_dict(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
