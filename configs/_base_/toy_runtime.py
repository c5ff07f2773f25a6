# Runtime for the CPU toy runs: MMDetection's default runtime, with a CPU
# process-group backend, frequent logging and few kept checkpoints.
_base_ = 'mmdet::_base_/default_runtime.py'

# MMEngine's runner, reading MMEngine's checkpoints under torch >= 2.6.
runner_type = 'mmdet.B2InstRunner'

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'))
log_processor = dict(type='LogProcessor', window_size=25, by_epoch=True)
# Same seed (and thread count), same toy run: ablation rows differ only by
# what they change.
randomness = dict(seed=0)
# Checkpoints carry the random state (data-loader workers included), so that
# a run resumed with --resume ends with the weights of the uninterrupted run.
custom_hooks = [dict(type='LossGuardHook'), dict(type='RNGStateHook')]
