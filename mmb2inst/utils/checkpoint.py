"""Checkpoint loading under torch >= 2.6 and checks on what is loaded.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True`` and refuses
to unpickle anything but tensors and plain containers, and the checkpoints
MMEngine writes carry its message hub (``HistoryBuffer`` objects holding
numpy arrays). :func:`load_local_checkpoint` reads them with
``weights_only=True`` and an allow-list of exactly those types.
:func:`mmengine_checkpoints` makes MMEngine's loader of local files use it
inside a ``with`` block; ``B2InstRunner`` (``runner_type`` of the configs),
:func:`check_checkpoint_matches`, :func:`load_detector` and
``B2InstInferencer`` load through it. :func:`allow_mmengine_checkpoints`
installs it for the rest of the process, for scripts that ask for it.
Importing mmb2inst changes nothing.
"""
import contextlib
import copy
import os.path as osp
from typing import Dict, Iterator, List, Optional

import numpy as np
import torch


def _mmengine_checkpoint_globals() -> List[object]:
    from mmengine.logging import HistoryBuffer
    globs = [HistoryBuffer, np.ndarray, np.dtype, getattr]
    # numpy's pickles reconstruct arrays and scalars through these; their
    # module moved from numpy.core to numpy._core in numpy 2.
    core = getattr(np, '_core', None) or np.core
    globs += [core.multiarray._reconstruct, core.multiarray.scalar]
    # Each dtype pickles as its own class (numpy.dtypes.Float64DType, ...).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        globs += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType')
        ]
    return globs


def load_local_checkpoint(filename: str, map_location=None):
    """Read a local checkpoint written by MMEngine with
    ``torch.load(weights_only=True)``, allowing the types of MMEngine's
    message hub while it loads (``torch.load`` elsewhere stays strict)."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    safe_globals = getattr(torch.serialization, 'safe_globals', None)
    if safe_globals is None:  # torch < 2.5 loads them anyway
        return torch.load(filename, map_location=map_location)
    with safe_globals(_mmengine_checkpoint_globals()):
        return torch.load(
            filename, map_location=map_location, weights_only=True)


@contextlib.contextmanager
def mmengine_checkpoints() -> Iterator[None]:
    """Within the block, MMEngine's ``CheckpointLoader`` reads local files
    with :func:`load_local_checkpoint`; its own loader is restored on exit.

    Example::

        with mmengine_checkpoints():
            ckpt = mmengine.runner.load_checkpoint(model, 'epoch_12.pth')
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    previous = CheckpointLoader._schemes.get('')
    CheckpointLoader.register_scheme('', load_local_checkpoint, force=True)
    try:
        yield
    finally:
        if previous is not None:
            CheckpointLoader.register_scheme('', previous, force=True)


def allow_mmengine_checkpoints() -> None:
    """Make MMEngine's loader of local files :func:`load_local_checkpoint`
    for the rest of the process, an explicit opt-in for scripts that load
    through MMEngine or mmdet directly (a plain ``Runner``,
    ``mmdet.apis.init_detector``). Configs need no call: they select
    ``B2InstRunner``."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme('', load_local_checkpoint, force=True)


class CheckpointMismatchError(ValueError):
    """A checkpoint whose weights do not fit the model of the config."""


def state_dict_mismatch(model_state: Dict[str, torch.Tensor],
                        ckpt_state: Dict[str,
                                         torch.Tensor]) -> Dict[str, list]:
    """Compare two state dicts by key and shape.

    Returns:
        dict: ``missing`` (in the model, not in the checkpoint),
        ``unexpected`` (the other way round) and ``shape`` (``(key,
        model_shape, ckpt_shape)`` for keys in both with different shapes).
    """
    missing = [k for k in model_state if k not in ckpt_state]
    unexpected = [k for k in ckpt_state if k not in model_state]
    shape = [
        (k, tuple(v.shape), tuple(ckpt_state[k].shape))
        for k, v in model_state.items()
        if k in ckpt_state and tuple(v.shape) != tuple(ckpt_state[k].shape)
    ]
    return dict(missing=missing, unexpected=unexpected, shape=shape)


def _without_ddp_prefix(state: Dict[str, torch.Tensor]) -> dict:
    """State dict keys without the ``module.`` of a DDP-wrapped model."""
    prefix = 'module.'
    return {
        (k[len(prefix):] if k.startswith(prefix) else k): v
        for k, v in state.items()
    }


def adapt_state_dict(model: torch.nn.Module, state_dict: dict) -> dict:
    """A copy of ``state_dict`` as ``model`` loads it: passed through the
    ``adapt_state_dict`` of every submodule that has one (the layouts of
    baselines and of mmdet's published checkpoints, see
    ``B2InstYOLACT`` and ``BlendMaskBboxHead``)."""
    state_dict = dict(state_dict)
    for name, module in model.named_modules():
        adapt = getattr(module, 'adapt_state_dict', None)
        if callable(adapt):
            adapt(state_dict, f'{name}.' if name else '', log=False)
    return state_dict


def check_checkpoint_matches(model: torch.nn.Module,
                             filename: str,
                             config_name: Optional[str] = None,
                             allow_missing: bool = False) -> dict:
    """Raise :class:`CheckpointMismatchError` if ``filename`` does not hold
    weights for ``model``.

    MMEngine's ``load_checkpoint`` only warns about missing or misshapen
    weights, so testing a checkpoint of another model would silently
    evaluate a half-random network.

    With ``allow_missing`` (initialising a model from a checkpoint, e.g. a
    new head on a trained model) weights the checkpoint lacks are fine, as
    long as some weights match and every weight it has fits the model.

    Returns:
        dict: The checkpoint (its ``meta`` tells the epoch and iteration).
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    with mmengine_checkpoints():
        ckpt = _load_checkpoint(filename, map_location='cpu')
    ckpt_state = ckpt.get('state_dict', ckpt) if isinstance(ckpt,
                                                            dict) else None
    if not isinstance(ckpt_state, dict) or not all(
            isinstance(v, torch.Tensor) for v in ckpt_state.values()):
        raise CheckpointMismatchError(
            f'{filename} is not a model checkpoint (no state_dict of '
            'tensors in it). Pass a .pth file written by training, e.g. '
            'work_dirs/<config>/epoch_N.pth.')
    ckpt_state = _without_ddp_prefix(ckpt_state)
    model = getattr(model, 'module', model)
    ckpt_state = adapt_state_dict(model, ckpt_state)
    model_state = model.state_dict()
    diff = state_dict_mismatch(model_state, ckpt_state)
    if allow_missing and len(diff['missing']) < len(model_state):
        diff['missing'] = []
    if not (diff['missing'] or diff['unexpected'] or diff['shape']):
        return ckpt
    lines = [
        f'The checkpoint {filename} does not match the model of '
        f'{config_name or "the config"}:'
    ]
    for key, what in (('missing', 'weights the model needs are not in it'),
                      ('unexpected', 'weights in it the model has no place '
                       'for')):
        if diff[key]:
            lines.append(f'  {len(diff[key])} {what}, e.g. ' +
                         ', '.join(diff[key][:3]))
    if diff['shape']:
        k, m, c = diff['shape'][0]
        lines.append(f'  {len(diff["shape"])} weights differ in shape, e.g. '
                     f'{k}: model {m} vs checkpoint {c}')
    lines.append('Use the checkpoint written by training this config (its '
                 'work_dir), or the config the checkpoint was trained with.')
    raise CheckpointMismatchError('\n'.join(lines))


def load_detector(cfg,
                  checkpoint: str,
                  config_name: Optional[str] = None,
                  images_only: bool = False) -> torch.nn.Module:
    """A detector of ``cfg`` on the CPU, in eval mode, with the weights of
    ``checkpoint`` (checked to fit the model, read once) and the dataset meta
    saved in it (the config's test dataset's if it has none).

    Args:
        cfg (Config | str): The model's config (already merged with any
            ``--cfg-options``) or its path.
        checkpoint (str): A ``.pth`` file written by training.
        config_name (str, optional): The config's path, for error messages.
        images_only (bool): Drop ``LoadAnnotations`` from the test pipeline,
            so that ``mmdet.apis.inference_detector`` runs on an image alone.

    Raises:
        CheckpointMismatchError: The checkpoint holds another model.
    """
    from mmdet.registry import DATASETS, MODELS
    from mmengine.config import Config
    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    if not isinstance(cfg, Config):
        cfg = Config.fromfile(cfg)
    if images_only:
        cfg.test_dataloader.dataset.pipeline = [
            t for t in cfg.test_dataloader.dataset.pipeline
            if t['type'] != 'LoadAnnotations'
        ]
    if 'init_cfg' in cfg.model.backbone:  # the checkpoint has the weights
        cfg.model.backbone.init_cfg = None
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.cfg = cfg
    ckpt = check_checkpoint_matches(model, checkpoint, config_name)
    model.load_state_dict(_without_ddp_prefix(ckpt.get('state_dict', ckpt)))
    meta = ckpt.get('meta', {}).get('dataset_meta')
    if meta is None:  # e.g. converted weights: the config's dataset
        dataset = copy.deepcopy(cfg.test_dataloader.dataset)
        dataset['lazy_init'] = True
        meta = DATASETS.build(dataset).metainfo
    model.dataset_meta = meta
    return model.eval()
