# Copyright (c) mmb2inst contributors. All rights reserved.
from .boundary_loss import BoundaryLoss

__all__ = ['BoundaryLoss']
