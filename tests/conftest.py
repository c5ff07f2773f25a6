"""Test session set-up: MMDetection's modules registered and its scope set as
the default one, as the runner does for a config with default_scope='mmdet'."""
import os
import warnings

import pytest
from coco_runs import SMOKE_PROCESSES
from mmdet.utils import register_all_modules
from toy_runs import load_tool

import mmb2inst  # noqa: F401

register_all_modules(init_default_scope=True)
# pycocotools and torch.jit deprecation noise, not ours.
warnings.filterwarnings('ignore', category=DeprecationWarning)


@pytest.fixture(scope='session')
def coco_set(tmp_path_factory, synthetic_coco_tool):
    """The synthetic COCO-format set: ``(data root, generator summary)``."""
    root = str(tmp_path_factory.mktemp('synthetic_coco'))
    return root, synthetic_coco_tool.generate_synthetic_coco(root)


@pytest.fixture(scope='session')
def synthetic_coco_tool():
    """``tools/dataset_converters/make_synthetic_coco.py``, the generator of
    the synthetic COCO-format set, as a module."""
    return load_tool('dataset_converters/make_synthetic_coco')


@pytest.fixture(scope='session')
def coco_root(coco_set):
    return coco_set[0]


def pytest_collection_modifyitems(config, items):
    # The COCO smoke tests run last: their runs train in the background
    # meanwhile (pytest_collection_finish).
    items.sort(
        key=lambda item: item.get_closest_marker('coco_smoke') is not None)


def pytest_collection_finish(session):
    runs = [
        item.callspec.params['run'] for item in session.items if
        item.get_closest_marker('coco_smoke') and 'run' in item.callspec.params
    ]
    if runs and not session.config.option.collectonly:
        from coco_runs import SmokeProcesses
        session.config.stash[SMOKE_PROCESSES] = SmokeProcesses(runs)
        # The two smoke processes take a core each: the rest of the suite
        # (and the processes it starts) runs one thread at a time beside
        # them. Several threads per process on oversubscribed cores
        # spin-wait for each other, many times slower.
        os.environ.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
        import torch
        torch.set_num_threads(1)


def pytest_terminal_summary(terminalreporter):
    procs = terminalreporter.config.stash.get(SMOKE_PROCESSES, None)
    if procs is not None and procs.done is not None:
        from coco_runs import smoke_report
        terminalreporter.section('COCO smoke runs')
        for line in smoke_report(procs.done):
            terminalreporter.write_line(line)


def pytest_sessionfinish(session):
    procs = session.config.stash.get(SMOKE_PROCESSES, None)
    if procs is not None:
        procs.close()
