"""Drawing B2Inst's holistic boundary map beside MMDetection's pictures."""
from typing import Optional, Sequence

import cv2
import mmcv
import numpy as np
import torch
from mmdet.registry import VISUALIZERS
from mmdet.visualization import DetLocalVisualizer


def heatmap(prob: np.ndarray) -> np.ndarray:
    """``(H, W)`` values in [0, 1] -> ``(H, W, 3)`` uint8 RGB (inferno)."""
    gray = np.clip(prob * 255, 0, 255).astype(np.uint8)
    return cv2.applyColorMap(gray, cv2.COLORMAP_INFERNO)[..., ::-1].copy()


def boundary_on_image(boundary: torch.Tensor, metainfo: dict,
                      out_hw: Sequence[int]) -> np.ndarray:
    """The predicted boundary map as an image of ``out_hw``.

    Args:
        boundary (Tensor): ``(1, h, w)`` probabilities over the padded batch
            input (``metainfo['batch_input_shape']``).
        metainfo (dict): The data sample's metainfo (``img_shape`` is the
            part of the padded input that holds the image).
        out_hw (Sequence[int]): Height and width of the picture to match.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB heat map.
    """
    prob = boundary.detach().float().cpu().numpy()[0]
    h, w = prob.shape
    pad_h, pad_w = metainfo.get('batch_input_shape',
                                metainfo.get('pad_shape', (h, w)))[:2]
    img_h, img_w = metainfo.get('img_shape', (pad_h, pad_w))[:2]
    valid = prob[:max(1, round(h * img_h /
                               pad_h)), :max(1, round(w * img_w / pad_w))]
    valid = cv2.resize(
        valid, (int(out_hw[1]), int(out_hw[0])),
        interpolation=cv2.INTER_LINEAR)
    return heatmap(valid)


@VISUALIZERS.register_module()
class B2InstLocalVisualizer(DetLocalVisualizer):
    """``DetLocalVisualizer`` that adds a third panel, the predicted
    holistic boundary map (``data_sample.pred_boundary``), to the
    ground-truth | prediction picture. Samples without a boundary map are
    drawn exactly as by ``DetLocalVisualizer``."""

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       pred_score_thr: float = 0.3,
                       step: int = 0) -> None:
        if not (draw_pred and data_sample is not None
                and 'pred_boundary' in data_sample):
            return super().add_datasample(name, image, data_sample, draw_gt,
                                          draw_pred, show, wait_time, out_file,
                                          pred_score_thr, step)
        # Let mmdet draw its panels without storing them, then store the
        # picture with the boundary panel appended.
        self.add_image = lambda *args, **kwargs: None
        try:
            super().add_datasample(name, image, data_sample, draw_gt,
                                   draw_pred, False, wait_time, None,
                                   pred_score_thr, step)
        finally:
            del self.add_image
        drawn = self.get_image()
        panel = boundary_on_image(data_sample.pred_boundary.data,
                                  data_sample.metainfo, image.shape[:2])
        drawn = np.concatenate([drawn, panel], axis=1)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
