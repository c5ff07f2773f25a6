# Copyright (c) mmb2inst contributors. All rights reserved.
from .coco import CheckedCocoDataset
from .toy_dataset import ToyShapesDataset
from .toy_shapes import (CLASSES, DEFAULT_SETTINGS, FORMAT_VERSION, PALETTE,
                         ensure_toy_dataset, generate_toy_dataset,
                         render_image, resolve_settings)

__all__ = [
    'CheckedCocoDataset', 'CLASSES', 'DEFAULT_SETTINGS', 'FORMAT_VERSION',
    'PALETTE', 'ToyShapesDataset', 'ensure_toy_dataset',
    'generate_toy_dataset', 'render_image', 'resolve_settings'
]
