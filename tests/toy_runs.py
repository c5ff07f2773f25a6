"""Helpers of the tests that train toy models through the entry points
(`mim train`, tools/dist_train.sh): the toy model configs, a tiny toy
dataset, and subprocess runs."""
import copy
import importlib.util
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
import torch

from mmb2inst.datasets import ensure_toy_dataset

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
BIN = osp.dirname(sys.executable)

# Every toy model: the slow entry-point tests (resume, DDP) run each of them
# (DDP of the hosts alone only in the extended tests).
# Add a model's toy config here when it lands.
TOY_MODEL_CONFIGS = [
    'configs/yolact/yolact_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_hbb_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py',
    'configs/blendmask/blendmask_r18_1xb8-12e_toy.py',
    'configs/b2inst_blendmask/b2inst-blendmask_r18_1xb8-12e_toy.py',
]


def config_id(config: str) -> str:
    return osp.splitext(osp.basename(config))[0]


def make_tiny_toy(data_root: str,
                  num_train: int = 16,
                  num_val: int = 8) -> dict:
    """Generate a tiny toy dataset (both splits) and return its generator
    settings."""
    gen = dict(num_train=num_train, num_val=num_val, img_size=128, seed=3)
    ensure_toy_dataset(data_root, gen)
    return gen


def toy_options(data_root: str,
                gen: dict,
                batch_size: int,
                max_epochs: int,
                num_workers: int = 1,
                val_interval: int = 0) -> list:
    """--cfg-options for a toy config on the tiny dataset at ``data_root``.

    ``num_workers >= 1`` keeps the configs' persistent workers, as in real
    runs. ``val_interval=0``: no validation at all.
    """
    opts = [f'train_cfg.max_epochs={max_epochs}', 'randomness.seed=0']
    loaders = ['train_dataloader']
    if val_interval:
        loaders += ['val_dataloader', 'test_dataloader']
        ann = f'{data_root}/annotations/instances_val.json'
        opts += [f'train_cfg.val_interval={val_interval}']
        opts += [
            f'{split}_evaluator.{i}.ann_file={ann}'
            for split in ('val', 'test') for i in (0, 1)
        ]
    else:
        opts += ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']
    for loader in loaders:
        opts += [
            f'{loader}.batch_size={batch_size}',
            f'{loader}.num_workers={num_workers}',
            f'{loader}.persistent_workers={num_workers > 0}',
            f'{loader}.dataset.data_root={data_root}/'
        ]
        opts += [f'{loader}.dataset.generator.{k}={v}' for k, v in gen.items()]
    return opts


def env(**extra) -> dict:
    out = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'])
    out.update(extra)
    return out


def run(args, cwd=ROOT, timeout=600, **extra_env):
    return subprocess.run(
        args,
        cwd=cwd,
        env=env(**extra_env),
        capture_output=True,
        text=True,
        timeout=timeout)


def free_port() -> int:
    """A free TCP port, so that a test's torchrun does not collide with
    other runs on the machine."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def load_state(path: str) -> dict:
    """The ``state_dict`` (and ``optimizer``) of an MMEngine checkpoint."""
    from mmb2inst.utils.checkpoint import load_local_checkpoint
    return load_local_checkpoint(path, map_location='cpu')


def unequal_tensors(a, b, prefix: str = '') -> list:
    """Key paths where two nested structures of tensors and arrays differ
    (anything but exact equality of every tensor, array and value)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = isinstance(a, torch.Tensor) and isinstance(
            b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
        return [] if same else [prefix]
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        same = isinstance(a, np.ndarray) and isinstance(
            b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
        return [] if same else [prefix]
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f'{prefix} (keys)']
        return [
            p for k in a
            for p in unequal_tensors(a[k], b[k], f'{prefix}.{k}'.lstrip('.'))
        ]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f'{prefix} (length)']
        return [
            p for i, (x, y) in enumerate(zip(a, b))
            for p in unequal_tensors(x, y, f'{prefix}[{i}]')
        ]
    return [] if a == b else [prefix]


def _import_file(name: str, path: str, package_dir: str = None):
    """The module of ``path`` as ``name``; with ``package_dir``, a package
    (registered, so that its submodules ``name.x`` import from there)."""
    spec = importlib.util.spec_from_file_location(
        name,
        path,
        submodule_search_locations=None
        if package_dir is None else [package_dir])
    module = importlib.util.module_from_spec(spec)
    if package_dir is not None:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_tool(name: str):
    """The module of ``tools/<name>.py`` (``name`` may have a folder, e.g.
    ``analysis_tools/loss_grad_norms``), imported as
    ``python tools/<name>.py`` would run it: the packages of modules beside
    it (e.g. ``analysis_tools/ablation/``) import under their own name."""
    path = osp.join(ROOT, 'tools', f'{name}.py')
    folder = osp.dirname(path)
    for entry in sorted(os.listdir(folder)):
        init = osp.join(folder, entry, '__init__.py')
        if osp.isfile(init) and entry not in sys.modules:
            _import_file(entry, init, osp.dirname(init))
    return _import_file(name.replace('/', '.'), path)


def toy_batch(model, num_items=(3, 2), size=64, seed=0) -> dict:
    """Two random ``size`` x ``size`` images with ``num_items`` GT instances
    (bitmap masks, 5 classes), through ``model``'s data preprocessor."""
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(seed)
    packed = demo_mm_inputs(
        2, [[3, size, size]] * 2,
        num_items=list(num_items),
        num_classes=5,
        with_mask=True)
    return model.data_preprocessor(packed, True)


def build_model(model_cfg, seed=0):
    """``model_cfg`` built and initialised under ``seed``."""
    from mmdet.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(model_cfg))
    model.init_weights()
    return model


def spread_scorer_outputs(scorer) -> None:
    """Untrained scorer outputs sit at 0; spread them around 0.5, so that
    rescoring visibly changes the scores."""
    for name in scorer.branches:
        layer = getattr(scorer, f'{name}_pred')
        torch.nn.init.constant_(layer.bias, 0.5)
        layer.weight.data.mul_(0.1)


def predict_with_and_without_scorer(model, data) -> tuple:
    """``model``'s predictions (``pred_instances`` per image) with its
    scorer, then with the scorer removed (``mask_head.scorer = None``).
    ``predict()`` writes into the data samples, so the first are copied
    before the second call."""
    with torch.no_grad():
        scored = [
            copy.deepcopy(s.pred_instances)
            for s in model.predict(data['inputs'], data['data_samples'])
        ]
        model.mask_head.scorer = None
        plain = [
            s.pred_instances
            for s in model.predict(data['inputs'], data['data_samples'])
        ]
    return scored, plain
