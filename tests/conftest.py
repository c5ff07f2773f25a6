"""Test session set-up: MMDetection's modules registered and its scope set as
the default one, as the runner does for a config with default_scope='mmdet'."""
import os.path as osp
import sys
import warnings

import pytest
from mmdet.utils import register_all_modules

# The helpers (toy_runs, coco_runs) live here, the tests in subfolders.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import mmb2inst  # noqa: F401,E402

register_all_modules(init_default_scope=True)
# pycocotools and torch.jit deprecation noise, not ours.
warnings.filterwarnings('ignore', category=DeprecationWarning)


@pytest.fixture(scope='session')
def coco_set(tmp_path_factory):
    """The synthetic COCO-format set: ``(data root, generator summary)``."""
    from mmb2inst.datasets import generate_synthetic_coco
    root = str(tmp_path_factory.mktemp('synthetic_coco'))
    return root, generate_synthetic_coco(root)


@pytest.fixture(scope='session')
def coco_root(coco_set):
    return coco_set[0]


# The unit layer (`pytest -m "not slow"`) is the pure functions, losses,
# metrics, datasets and configs. Whole-model training steps and the tools'
# end-to-end runs (subprocesses, exports, several processes) take seconds
# to minutes each on 2 CPU cores, so these modules (and tests) count as
# slow as a whole; CI runs everything.
SLOW_MODULES = (
    'tests/tools/',
    'tests/deploy/',
    'tests/models/test_amp.py',
    'tests/models/test_b2inst_yolact.py',
    'tests/models/test_blendmask.py',
    'tests/models/test_degenerate.py',
    'tests/models/test_polygon_masks.py',
    'tests/models/test_scorer.py::test_yolact_training_step',
    'tests/engine/test_freeze_hook.py',
    'tests/configs/test_config_errors.py',
)


def pytest_collection_modifyitems(config, items):
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    for item in items:
        path = osp.relpath(str(item.fspath), root).replace(osp.sep, '/')
        if f'{path}::{item.name}'.startswith(SLOW_MODULES):
            item.add_marker(pytest.mark.slow)
