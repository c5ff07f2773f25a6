"""Test session set-up: MMDetection's modules registered and its scope set as
the default one, as the runner does for a config with default_scope='mmdet'."""
import warnings

from mmdet.utils import register_all_modules

import mmb2inst  # noqa: F401

register_all_modules(init_default_scope=True)
# pycocotools and torch.jit deprecation noise, not ours.
warnings.filterwarnings('ignore', category=DeprecationWarning)
