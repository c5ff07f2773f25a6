"""MMEngine's runner, reading MMEngine's checkpoints under torch >= 2.6."""
from mmdet.registry import RUNNERS
from mmengine.runner import Runner

from ..utils.checkpoint import mmengine_checkpoints


@RUNNERS.register_module()
class B2InstRunner(Runner):
    """MMEngine's ``Runner`` whose ``load_checkpoint`` (``load_from``,
    ``--resume``, testing) reads local checkpoints with
    :func:`mmb2inst.utils.checkpoint.load_local_checkpoint`.

    The configs select it with ``runner_type = 'mmdet.B2InstRunner'``;
    MMEngine's checkpoint loader is the stock one outside the call.
    """

    def load_checkpoint(self, filename: str, *args, **kwargs):
        with mmengine_checkpoints():
            return super().load_checkpoint(filename, *args, **kwargs)
