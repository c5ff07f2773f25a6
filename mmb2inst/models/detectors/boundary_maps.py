"""What the B2Inst detectors share: where the predicted holistic boundary
map goes, and the defaults the detectors derive counts from."""
import inspect

from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmengine.structures import PixelData


def default_of(type_name: str, arg: str):
    """The default of ``arg`` of the registered class ``type_name``."""
    cls = MODELS.get(type_name)
    return inspect.signature(cls.__init__).parameters[arg].default


def move_boundary_maps(samples: SampleList) -> SampleList:
    """Move ``pred_instances.boundary_map`` (metainfo set by the mask head,
    ``(1, h, w)`` probabilities at the basis stride) to
    ``sample.pred_boundary`` (``PixelData``) for visualisation."""
    for sample in samples:
        boundary = sample.pred_instances.metainfo.get('boundary_map')
        if boundary is not None:
            del sample.pred_instances.boundary_map
            sample.pred_boundary = PixelData(data=boundary)
    return samples


class BoundaryMapsMixin:
    """``predict`` of a single-stage instance segmentor that also returns
    the holistic boundary map (``sample.pred_boundary``)."""

    def predict(self,
                batch_inputs,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        return move_boundary_maps(super().predict(batch_inputs,
                                                  batch_data_samples, rescale))
