"""B2Inst-YOLACT: mmdet's YOLACT with the boundary-basis protonet."""
from mmdet.models.detectors import YOLACT
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from torch import Tensor

from mmb2inst.errors import ConfigError
from .boundary_maps import move_boundary_maps


@MODELS.register_module()
class B2InstYOLACT(YOLACT):
    """YOLACT whose mask head is a ``B2InstYOLACTProtonet``.

    Training is mmdet's (``SingleStageInstanceSegmentor``); at test time the
    predicted holistic boundary map is stored in each data sample as
    ``pred_boundary`` (``PixelData``, ``(1, h, w)`` probabilities at the
    prototype stride) for visualisation.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        coeffs = getattr(self.bbox_head, 'num_protos', None)
        bases = getattr(self.mask_head, 'num_protos', None)
        if coeffs is not None and bases is not None and coeffs != bases:
            raise ConfigError(
                f'model.bbox_head.num_protos={coeffs} coefficients per '
                f'instance but model.mask_head.num_protos={bases} bases; set '
                f'model.bbox_head.num_protos={bases} (K prototypes, +1 when '
                'the boundary basis is used for composition).')

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        return move_boundary_maps(super().predict(batch_inputs,
                                                  batch_data_samples, rescale))
