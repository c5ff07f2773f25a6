# Copyright (c) mmb2inst contributors. All rights reserved.
from .boundary import (boundary_dice, image_boundary_map, laplacian_boundary,
                       mask_iou, rescore)
from .masks import box_crops, masks_at

__all__ = [
    'box_crops', 'masks_at', 'laplacian_boundary', 'image_boundary_map',
    'boundary_dice', 'mask_iou', 'rescore'
]
