# Copyright (c) mmb2inst contributors. All rights reserved.
import os
import os.path as osp
from typing import List, Optional

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from .toy_shapes import CLASSES, PALETTE, ensure_toy_dataset, resolve_settings


@DATASETS.register_module()
class ToyShapesDataset(CocoDataset):
    """The seeded toy shapes dataset, generated on first use.

    A :class:`mmdet.datasets.CocoDataset` over the data written by
    :func:`mmb2inst.datasets.generate_toy_dataset`. When the annotation file
    is missing under ``data_root``, both splits are generated there first
    (safely when several processes build the dataset at once). If
    ``data_root`` already holds a toy dataset that was generated with other
    settings, a ValueError is raised instead of touching it.

    RLE annotations (rings and occluded instances) need
    ``LoadAnnotations(with_mask=True, poly2mask=True)``, the default;
    ``poly2mask=False`` would mark them as ignored.

    Args:
        generator (dict, optional): Generator settings, any subset of
            :data:`mmb2inst.datasets.DEFAULT_SETTINGS`; missing keys take the
            default. The train and val datasets of a config should pass the
            same dict: whichever is built first generates both splits.
            Defaults to None (all defaults).
        *args, **kwargs: Passed to :class:`CocoDataset`. ``data_root`` is
            the dataset directory; without it nothing is generated.
    """

    METAINFO = dict(classes=CLASSES, palette=list(PALETTE))

    def __init__(self, *args, generator: Optional[dict] = None, **kwargs):
        # Validate early so that a typo fails at build time, not later in a
        # lazily initialised worker.
        self.generator = resolve_settings(generator)
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Generate the dataset if needed, then load it like COCO."""
        if self.data_root:
            # self.ann_file has already been joined with data_root.
            rel = osp.relpath(self.ann_file, self.data_root)
            outside = rel == osp.pardir or rel.startswith(osp.pardir + os.sep)
            required = [] if outside else [rel]
            ensure_toy_dataset(
                self.data_root, self.generator, required_files=required)
        return super().load_data_list()
