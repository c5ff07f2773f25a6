# Copyright (c) mmb2inst contributors. All rights reserved.
from .boundary_scorer import BoundaryAwareScorer

__all__ = ['BoundaryAwareScorer']
