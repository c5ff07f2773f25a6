# Copyright (c) mmb2inst contributors. All rights reserved.
from .boundary_metric import BoundaryAPMetric
from .coco_metric import SafeCocoMetric

__all__ = ['BoundaryAPMetric', 'SafeCocoMetric']
