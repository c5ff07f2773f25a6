# Copyright (c) mmb2inst contributors. All rights reserved.
from .boundary import (boundary_dice, image_boundary_map, laplacian_boundary,
                       mask_iou, pool_boundary_map, rescore)
from .masks import box_crops, semantic_targets

__all__ = [
    'laplacian_boundary', 'image_boundary_map', 'boundary_dice', 'mask_iou',
    'rescore', 'pool_boundary_map', 'box_crops', 'semantic_targets'
]
