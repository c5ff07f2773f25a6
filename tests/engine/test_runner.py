"""Reading MMEngine's checkpoints under torch >= 2.6 is opt-in: importing
mmb2inst leaves MMEngine's loader alone; the configs' ``B2InstRunner`` and
``mmengine_checkpoints()`` read them, with ``torch.load`` as strict as
torch made it outside."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from mmb2inst.engine import B2InstRunner
from mmb2inst.utils.checkpoint import (allow_mmengine_checkpoints,
                                       mmengine_checkpoints)

LOADER_STATE = ('import torch, mmengine.runner.checkpoint as c; '
                'print(sorted((k, v.__module__, v.__name__) '
                'for k, v in c.CheckpointLoader._schemes.items()), '
                'c._load_checkpoint.__module__, c.load_checkpoint.__module__, '
                'torch.load.__module__)')


@pytest.mark.slow  # a fresh interpreter importing the stack
def test_importing_mmb2inst_leaves_mmengines_loader_alone():

    def state(prelude):
        out = subprocess.run([sys.executable, '-c', prelude + LOADER_STATE],
                             capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout

    before = state('')
    assert 'mmb2inst' not in before
    assert state('import mmb2inst; ') == before


class Tiny(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 1)

    def forward(self, inputs=None, data_samples=None, mode='tensor'):
        return self.fc(inputs)


@pytest.fixture
def hub_checkpoint(tmp_path):
    """A checkpoint as MMEngine writes it: weights and a message hub of
    ``HistoryBuffer`` objects holding numpy arrays."""
    model = Tiny()
    torch.nn.init.constant_(model.fc.weight, 0.5)
    hub = HistoryBuffer()
    hub.update(np.float64(1.5))
    path = tmp_path / 'epoch_1.pth'
    torch.save(
        dict(
            meta=dict(epoch=1),
            state_dict=model.state_dict(),
            message_hub=dict(log_scalars={'train/loss': hub})), path)
    return str(path)


def test_scoped_loader_reads_mmengine_checkpoints(hub_checkpoint):
    stock = CheckpointLoader._schemes['']
    with mmengine_checkpoints():
        ckpt = _load_checkpoint(hub_checkpoint, map_location='cpu')
    hub = ckpt['message_hub']['log_scalars']['train/loss']
    assert hub.current() == 1.5
    assert CheckpointLoader._schemes[''] is stock
    # outside the block, and for plain torch.load, torch's strict default
    with pytest.raises(Exception, match='weights_only'):
        _load_checkpoint(hub_checkpoint, map_location='cpu')
    with pytest.raises(Exception, match='weights_only'):
        torch.load(hub_checkpoint)


def test_runner_loads_mmengine_checkpoints(hub_checkpoint, tmp_path):
    stock = CheckpointLoader._schemes['']
    runner = B2InstRunner(
        model=Tiny(), work_dir=str(tmp_path / 'work'), load_from=None)
    ckpt = runner.load_checkpoint(hub_checkpoint)
    assert ckpt['meta']['epoch'] == 1
    assert torch.equal(runner.model.fc.weight, torch.full((1, 2), 0.5))
    assert CheckpointLoader._schemes[''] is stock


def test_explicit_opt_in_for_scripts(hub_checkpoint):
    stock = CheckpointLoader._schemes['']
    try:
        allow_mmengine_checkpoints()
        ckpt = _load_checkpoint(hub_checkpoint, map_location='cpu')
        assert ckpt['meta']['epoch'] == 1
    finally:
        CheckpointLoader.register_scheme('', stock, force=True)
