"""Distributed runs on machines without CUDA (``torchrun`` + ``--launcher
pytorch``, e.g. ``bash tools/dist_train.sh CONFIG 2`` on CPU).

MMEngine's ``pytorch`` launcher calls ``torch.cuda.set_device``, and its
default DDP wrapper passes ``device_ids=[LOCAL_RANK]``: both need a GPU. On a
machine without CUDA, :func:`setup_cpu_distributed` initialises the process
group with gloo before the Runner does (the Runner then skips its own
initialisation) and has DDP wrap the CPU module (``device_ids=None``). With
CUDA it does nothing: GPU runs keep MMEngine's path (``env_cfg.dist_cfg``,
one device per process).
"""
import os
from datetime import timedelta
from typing import List

import torch
from mmengine.config import Config

from mmb2inst.errors import UserInputError


def _replace_sync_bn(node, path: str = '') -> List[str]:
    """Turn every ``type='SyncBN'`` in a config tree into ``'BN'``, in place;
    returns the key paths."""
    found = []
    if isinstance(node, dict):
        if node.get('type') in ('SyncBN', 'MMSyncBN'):
            node['type'] = 'BN'
            found.append(path or 'type')
        for k, v in node.items():
            found += _replace_sync_bn(v, f'{path}.{k}' if path else k)
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            found += _replace_sync_bn(v, f'{path}[{i}]')
    return found


def setup_cpu_distributed(cfg: Config) -> bool:
    """Prepare a distributed run on CPU; call it before building the Runner.

    Initialises the default process group with gloo from torchrun's
    environment, sets ``cfg.model_wrapper_cfg`` (unless the config has one)
    to MMEngine's DDP wrapper with ``device_ids=None`` and MMEngine's
    defaults otherwise (``broadcast_buffers=False``,
    ``cfg.find_unused_parameters``), and replaces SyncBN by BN in
    ``cfg.model`` (PyTorch's SyncBatchNorm needs GPUs; each process then
    normalises over its own batch).

    Args:
        cfg (Config): The run's config, with ``launcher`` set.

    Returns:
        bool: Whether this is a distributed run on CPU (False, and nothing
        changed, when ``cfg.launcher`` is ``'none'`` or CUDA is available).
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise UserInputError(
            f'--launcher {launcher} needs GPUs (MMEngine selects one per '
            'process). On a machine without CUDA, launch with torchrun: bash '
            'tools/dist_train.sh CONFIG NUM_PROCESSES (tools/dist_test.sh '
            'for testing).')
    missing = [
        k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
        if k not in os.environ
    ]
    if missing:
        raise UserInputError(
            f'--launcher pytorch: {", ".join(missing)} not set. Start the '
            'run with torchrun, e.g. bash tools/dist_train.sh CONFIG 2.')
    import torch.distributed as dist
    if not dist.is_initialized():
        timeout = cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout')
        kwargs = {} if timeout is None else dict(
            timeout=timedelta(seconds=timeout))
        dist.init_process_group(backend='gloo', **kwargs)
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    model = cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') \
        else dict(cfg.model)
    replaced = _replace_sync_bn(model)
    if replaced:
        cfg.model = model
    if cfg.get('sync_bn'):
        cfg.sync_bn = None
        replaced.append('sync_bn')
    if replaced and dist.get_rank() == 0:
        print(
            'mmb2inst: SyncBN needs GPUs; on CPU each process normalises '
            'over its own batch (BN) at: ' + ', '.join(replaced),
            flush=True)
    return True
