"""Where B2Inst detectors put the predicted holistic boundary map."""
from mmdet.structures import SampleList
from mmengine.structures import PixelData


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
