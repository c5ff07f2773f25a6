# Copyright (c) mmb2inst contributors. All rights reserved.
"""Loss-free ``--resume``: random number generators continue where the
interrupted run left them.

An MMEngine checkpoint holds the weights, the optimizer, the parameter
schedulers and the message hub, but no random state, so a resumed run
draws other random numbers than the run that was never interrupted:

* Data-loader workers. MMEngine seeds each worker once, from ``(seed, rank,
  worker id)``. With ``persistent_workers=True`` (the toy and COCO configs) a
  worker lives through all epochs and its generators run on: the flips of
  epoch ``e`` continue the stream of epoch ``e - 1``. A resumed run starts
  new workers from the initial seeds, so its first epoch repeats the
  augmentation of epoch 1 instead.
* The main process. Training itself draws from the global generators (the
  random subset of positives that YOLACT's protonet and the boundary scorer
  keep); a resumed run restarts them from the seed. With ``num_workers=0``
  the augmentation is drawn there too.

:class:`RNGStateHook` records these states at every checkpoint, stores them
in it (``checkpoint['rng_state']``) and puts them back on resume. It changes
nothing in an uninterrupted run except that the work done between a
checkpoint and the next training step (validation, checkpointing) no longer
draws from the training generators.
"""
import random
from typing import Dict, Optional

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from torch.utils.data import get_worker_info

# Key under which a worker's batch carries the worker's generator states to
# the main process; removed before the model sees the batch.
WORKER_RNG_KEY = '_mmb2inst_worker_rng'


def get_rng_state() -> Dict:
    """The states of this process's global generators (Python, NumPy,
    torch, and CUDA's current device when CUDA is in use)."""
    state = dict(
        random=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: Dict, torch_only: bool = False) -> None:
    """Restore the states :func:`get_rng_state` returned."""
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state['cuda'])
    if not torch_only:
        random.setstate(state['random'])
        np.random.set_state(state['numpy'])


class WorkerRNGCollate:
    """A data loader's ``collate_fn`` that also hands the worker's generator
    states to the main process, as ``(worker id, states)`` under
    :data:`WORKER_RNG_KEY` of the batch.

    Collation is the last step of a worker's batch, so the states are those
    the worker's next batch starts from.
    """

    def __init__(self, collate_fn):
        self.collate_fn = collate_fn

    def __call__(self, samples):
        batch = self.collate_fn(samples)
        info = get_worker_info()
        if info is not None and isinstance(batch, dict):
            batch[WORKER_RNG_KEY] = (info.id, get_rng_state())
        return batch


class WorkerRNGRestore:
    """A data loader's ``worker_init_fn``: seed as ``worker_init_fn`` (the
    one it wraps, MMEngine's) does, then, if ``states`` holds an entry for
    this worker, continue from those states."""

    def __init__(self, worker_init_fn=None):
        self.worker_init_fn = worker_init_fn
        self.states: Optional[Dict[int, Dict]] = None

    def __call__(self, worker_id: int) -> None:
        if self.worker_init_fn is not None:
            self.worker_init_fn(worker_id)
        if self.states and worker_id in self.states:
            set_rng_state(self.states[worker_id])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the random state with each checkpoint and restore it on resume,
    so that a resumed run is the run that was never interrupted.

    At every checkpoint (the end of an epoch in ``EpochBasedTrainLoop``, a
    checkpoint iteration in ``IterBasedTrainLoop``) it records the main
    process's generators and, with persistent data-loader workers, every
    worker's (its last batch brings them along, see
    :class:`WorkerRNGCollate`), gathers them from all ranks and stores them
    in the checkpoint. On resume each rank gets its own states back: the
    main process's before the next training step, the workers' right after
    MMEngine seeded them (:class:`WorkerRNGRestore`).
    ``IterBasedTrainLoop`` needs no worker states: on resume it loads again
    every batch already trained on, which replays the workers' draws.

    Exact when the run is resumed with the same number of processes and of
    data-loader workers, from a checkpoint written with this hook at the
    end of an epoch (epoch loops) or with ``num_workers >= 1`` (iteration
    loops); otherwise it warns and the run continues as MMEngine's would.
    """

    priority = 'ABOVE_NORMAL'  # before CheckpointHook (VERY_LOW)

    def __init__(self):
        self._by_epoch: Optional[bool] = None
        self._captured: Optional[Dict] = None  # states of the last capture
        self._loaded: Optional[Dict] = None  # from after_load_checkpoint
        self._worker_states: Dict[int, Dict] = {}
        self._worker_init: Optional[WorkerRNGRestore] = None
        self._restore_at_iter: Optional[str] = None  # None, 'torch', 'all'

    # -- saving ---------------------------------------------------------

    def _capture(self, runner, done_iters: int) -> None:
        mine = dict(main=get_rng_state(), workers=dict(self._worker_states))
        world_size = get_dist_info()[1]
        ranks = all_gather_object(mine) if world_size > 1 else [mine]
        self._captured = dict(
            iter=done_iters,
            num_workers=runner.train_dataloader.num_workers,
            ranks=ranks)

    def _checkpoint_due(self, runner) -> bool:
        """Whether a CheckpointHook saves by iteration after this one."""
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and not hook.by_epoch:
                if hook.every_n_train_iters(
                        runner, hook.interval,
                        hook.save_begin) or (hook.save_last and
                                             hook.is_last_train_iter(runner)):
                    return True
        return False

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if self._by_epoch is False and self._checkpoint_due(runner):
            self._capture(runner, runner.iter + 1)
            if runner.train_dataloader.num_workers > 0:
                # Validation after this iteration must not shift the
                # generators. (Without workers the next batch's
                # augmentation is drawn before the restore would happen.)
                self._restore_at_iter = 'all'

    def after_train_epoch(self, runner) -> None:
        if self._by_epoch:
            self._capture(runner, runner.iter)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        captured = self._captured
        if captured is not None and \
                captured['iter'] == checkpoint['meta'].get('iter'):
            checkpoint['rng_state'] = captured

    # -- restoring ------------------------------------------------------

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = dict(
            rng_state=checkpoint.get('rng_state'),
            iter=checkpoint.get('meta', {}).get('iter'))

    def _resumed_state(self, runner) -> Optional[Dict]:
        """The states to continue from, or None if not resumed (or not
        possible, with a warning)."""
        loaded, self._loaded = self._loaded, None
        if loaded is None or runner.iter == 0:
            return None  # a fresh run, or load_from (fine-tuning)
        state = loaded['rng_state']
        problem = None
        if state is None:
            problem = ('the checkpoint holds no random state (written '
                       'without RNGStateHook, or in the middle of an epoch)')
        elif state['iter'] != runner.iter:
            problem = (f'its random state is of iteration {state["iter"]}, '
                       f'the run resumes at iteration {runner.iter}')
        elif len(state['ranks']) != get_dist_info()[1]:
            problem = (f'it was written by {len(state["ranks"])} processes, '
                       f'the run has {get_dist_info()[1]}')
        elif self._by_epoch is False and \
                runner.train_dataloader.num_workers == 0:
            problem = ('an iteration loop with num_workers=0 draws the '
                       'augmentation of its replayed batches in the main '
                       'process')
        if problem is not None:
            runner.logger.warning(
                f'RNGStateHook: random state not restored: {problem}. The '
                'resumed run draws other random numbers (augmentation, '
                'sampled positives) than an uninterrupted run would.')
            return None
        return state

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        if isinstance(loop, EpochBasedTrainLoop):
            self._by_epoch = True
        elif isinstance(loop, IterBasedTrainLoop):
            self._by_epoch = False
        else:
            runner.logger.warning(
                f'RNGStateHook: {type(loop).__name__} is neither an epoch '
                'nor an iteration loop; random state is not saved.')
            return
        loader = runner.train_dataloader
        # Only persistent workers carry their state from epoch to epoch;
        # others are seeded afresh every epoch, resumed or not.
        track_workers = self._by_epoch and loader.num_workers > 0 \
            and loader.persistent_workers
        if track_workers:
            loader.collate_fn = WorkerRNGCollate(loader.collate_fn)
            self._worker_init = WorkerRNGRestore(loader.worker_init_fn)
            loader.worker_init_fn = self._worker_init
        state = self._resumed_state(runner)
        if state is None:
            return
        self._captured = state
        workers = state['ranks'][get_dist_info()[0]]['workers']
        if track_workers:
            if state['num_workers'] != loader.num_workers:
                runner.logger.warning(
                    'RNGStateHook: the checkpoint was written with '
                    f'num_workers={state["num_workers"]}, the run has '
                    f'{loader.num_workers}: the data-loader workers start '
                    'from their seeds, the augmentation differs from an '
                    'uninterrupted run.')
            else:
                self._worker_init.states = workers
                self._worker_states = dict(workers)
        if self._by_epoch:
            # The main process is restored in before_train_epoch. With
            # persistent workers the interrupted run made its data-loader
            # iterator once, in epoch 1; the resumed run makes it now, and
            # that draws a base seed from torch's generator: undo it.
            self._restore_at_iter = 'torch' if track_workers else None
        else:
            self._restore_at_iter = 'all'  # after the replayed batches
        runner.logger.info(
            f'RNGStateHook: random state of iteration {state["iter"]} '
            'restored; the run continues as if never interrupted.')

    def before_train_epoch(self, runner) -> None:
        captured = self._captured
        if self._by_epoch and captured is not None \
                and captured['iter'] == runner.iter:
            set_rng_state(captured['ranks'][get_dist_info()[0]]['main'])

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        if isinstance(data_batch, dict) and WORKER_RNG_KEY in data_batch:
            worker_id, state = data_batch.pop(WORKER_RNG_KEY)
            self._worker_states[worker_id] = state
        if self._worker_init is not None:
            self._worker_init.states = None  # the workers are running
        if self._restore_at_iter is not None and self._captured is not None:
            set_rng_state(
                self._captured['ranks'][get_dist_info()[0]]['main'],
                torch_only=self._restore_at_iter == 'torch')
        self._restore_at_iter = None
