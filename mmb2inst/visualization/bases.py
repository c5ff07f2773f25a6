"""Pictures of the learned bases and the boundary basis (the paper's Fig. 8).
"""
import contextlib
from typing import List, Optional

import cv2
import numpy as np
import torch

from .local_visualizer import boundary_on_image, heatmap


def forward_bases(mask_head, feats) -> dict:
    """``mask_head.forward_bases(feats)``; for mmdet's own YOLACTProtonet
    (the plain YOLACT baseline) the prototypes of its protonet."""
    if hasattr(mask_head, 'forward_bases'):
        return mask_head.forward_bases(feats)
    if hasattr(mask_head, 'protonet'):
        return dict(bases=mask_head.protonet(feats[0]), boundary=None)
    raise TypeError(f'{type(mask_head).__name__} has no bases to draw (no '
                    'forward_bases method)')


@contextlib.contextmanager
def capture_bases(model):
    """Record the bases of the next forward of ``model`` (any host: YOLACT,
    BlendMask and their B2Inst variants).

    Yields a dict that, after the forward, holds ``bases`` (``(B, K, h,
    w)``, the learned bases) and ``boundary`` (``(B, 1, h, w)``
    probabilities, or None without a boundary basis), computed by the mask
    head's ``forward_bases`` from the FPN features of that forward.
    """
    store = {}

    def hook(module, args, out):
        with torch.no_grad():
            store.update(forward_bases(model.mask_head, out))

    handle = model.neck.register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def _tile(img: np.ndarray, size: int, label: str) -> np.ndarray:
    tile = cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST)
    tile = np.ascontiguousarray(tile)
    cv2.putText(tile, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def bases_figure(image: np.ndarray,
                 prediction: np.ndarray,
                 bases: torch.Tensor,
                 boundary: Optional[torch.Tensor],
                 metainfo: dict,
                 tile: int = 96,
                 cols: int = 8) -> np.ndarray:
    """One picture: image | prediction | boundary basis on top, then the K
    bases, each scaled to its own [min, max] (they are unnormalised).

    Args:
        image (np.ndarray): ``(H, W, 3)`` RGB input image.
        prediction (np.ndarray): ``(H, W, 3)`` RGB picture of the masks.
        bases (Tensor): ``(K, h, w)`` over the padded input.
        boundary (Tensor, optional): ``(1, h, w)`` boundary probabilities.
        metainfo (dict): The data sample's metainfo.

    Returns:
        np.ndarray: RGB uint8 picture.
    """
    big = tile * 2
    top: List[np.ndarray] = [
        _tile(image, big, 'image'),
        _tile(prediction, big, 'prediction')
    ]
    if boundary is not None:
        top.append(
            _tile(
                boundary_on_image(boundary, metainfo, image.shape[:2]), big,
                'boundary basis'))
    rows = [np.concatenate(top, axis=1)]
    tiles = []
    for k, basis in enumerate(bases):
        lo, hi = float(basis.min()), float(basis.max())
        norm = (basis - lo) / max(hi - lo, 1e-6)
        img = boundary_on_image(norm[None], metainfo, image.shape[:2])
        tiles.append(_tile(img, tile, f'basis {k}'))
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    for r in range(0, len(tiles), cols):
        rows.append(np.concatenate(tiles[r:r + cols], axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    return np.concatenate(rows, axis=0)


__all__ = ['capture_bases', 'bases_figure', 'forward_bases', 'heatmap']
