"""YOLACT's detection head with one coefficient more per anchor."""
from functools import partial
from typing import Tuple

import torch
import torch.nn.functional as F
from mmdet.models.dense_heads import YOLACTHead
from mmdet.models.utils import multi_apply
from mmdet.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class B2InstYOLACTHead(YOLACTHead):
    """mmdet's ``YOLACTHead``: the same layers, parameters and outputs (to
    float rounding), built with the K + 1 coefficients per anchor that
    :class:`~mmb2inst.models.detectors.B2InstYOLACT` gives it.

    At inference on CPU its coefficient conv runs channels-last. With the
    boundary basis the conv has ``3 x 33 = 99`` output channels, and
    oneDNN's channels-first kernel takes 1.4x the time of the host's 96
    channels for those 3% more; channels-last takes 1.2x (conv alone, 550 x
    550 input, 2 threads). Training, and other devices, run mmdet's
    ``forward`` unchanged.
    """

    def forward(self, x: Tuple[Tensor]) -> tuple:
        if self.training or x[0].device.type != 'cpu':
            return super().forward(x)
        weight = self.conv_coeff.weight.contiguous(
            memory_format=torch.channels_last)
        return multi_apply(partial(self._forward_single, weight=weight), x)

    def _forward_single(self, x: Tensor, weight: Tensor) -> tuple:
        """``forward_single`` with the coefficient conv's ``weight`` in
        channels-last layout."""
        for head_conv in self.head_convs:
            x = head_conv(x)
        coeff = F.conv2d(
            x.contiguous(memory_format=torch.channels_last),
            weight,
            self.conv_coeff.bias,
            padding=self.conv_coeff.padding)
        return self.conv_cls(x), self.conv_reg(x), coeff.tanh()
