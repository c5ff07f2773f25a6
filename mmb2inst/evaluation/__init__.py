# Copyright (c) mmb2inst contributors. All rights reserved.
from .boundary_metric import BoundaryAPMetric

__all__ = ['BoundaryAPMetric']
