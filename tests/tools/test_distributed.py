"""Distributed training and testing on CPU: `bash tools/dist_train.sh CONFIG 2`
(torchrun, gloo, DDP of the CPU model) for every toy model, and
`bash tools/dist_test.sh`.

The training processes also import this module (``custom_imports``) for
:class:`DumpRankWeightsHook`, which lets every rank save its own weights, so
that the test compares the two replicas instead of trusting rank 0's
checkpoint alone.
"""
import os
import os.path as osp
import pickle

import pytest
import torch
from mmdet.apis import init_detector
from mmdet.registry import DATASETS, HOOKS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from toy_runs import (ROOT, TOY_MODEL_CONFIGS, config_id, free_port,
                      load_state, make_tiny_toy, run, unequal_tensors)

from mmb2inst.utils.checkpoint import mmengine_checkpoints
from mmb2inst.utils.distributed import setup_cpu_distributed
from mmb2inst.utils.run_checks import UserInputError

NPROC = 2
# This module and the helpers, importable in the training processes.
TESTS = os.pathsep.join(
    [osp.dirname(osp.abspath(__file__)),
     osp.join(ROOT, 'tests')])
BATCH = 2  # per process; 8 images: 2 iterations (DDP's unused-parameter
# error shows in the iteration after the one that left a parameter unused)


@HOOKS.register_module(force=True)
class DumpRankWeightsHook(Hook):
    """Save this rank's model weights before and after training, as
    ``<out_dir>/rank<R>_<before|after>.pth``."""

    priority = 'LOWEST'  # after the checkpoint

    def __init__(self, out_dir: str):
        self.out_dir = out_dir

    def _dump(self, runner, stage: str) -> None:
        model = runner.model
        wrapper = type(model).__name__
        module = model.module if is_model_wrapper(model) else model
        rank, world_size = get_dist_info()
        torch.save(
            dict(
                wrapper=wrapper,
                world_size=world_size,
                params=[n for n, _ in module.named_parameters()],
                state={
                    k: v.detach().cpu().clone()
                    for k, v in module.state_dict().items()
                }), osp.join(self.out_dir, f'rank{rank}_{stage}.pth'))

    def before_train(self, runner) -> None:
        self._dump(runner, 'before')

    def after_train(self, runner) -> None:
        self._dump(runner, 'after')


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    data_root = str(tmp_path_factory.mktemp('dist') / 'toy')
    return data_root, make_tiny_toy(data_root, num_train=8, num_val=4)


_runs = {}


def dist_train(config, toy, tmp_path_factory):
    """`bash tools/dist_train.sh` of ``config`` with 2 processes for one
    epoch (once per config and test session)."""
    if config in _runs:
        return _runs[config]
    data_root, gen = toy
    work_dir = str(tmp_path_factory.mktemp(config_id(config)))
    # A child config: the model's toy config plus the dumping hook (a hook
    # cannot be appended to custom_hooks through --cfg-options). Not in the
    # work_dir, where the runner dumps the merged config under this name.
    child = osp.join(
        str(tmp_path_factory.mktemp('configs')),
        'dist_' + osp.basename(config))
    with open(child, 'w') as f:
        f.write(f"_base_ = ['{osp.join(ROOT, config)}']\n"
                "custom_imports = dict(imports=['mmb2inst', "
                "'test_distributed'], allow_failed_imports=False)\n"
                "custom_hooks = [dict(type='RNGStateHook'), "
                f"dict(type='DumpRankWeightsHook', out_dir='{work_dir}')]\n")
    opts = [
        'train_cfg.max_epochs=1', f'train_dataloader.batch_size={BATCH}',
        f'train_dataloader.dataset.data_root={data_root}/',
        'default_hooks.logger.interval=1', 'val_cfg=None',
        'val_dataloader=None', 'val_evaluator=None'
    ] + [
        f'train_dataloader.dataset.generator.{k}={v}' for k, v in gen.items()
    ]
    args = ['bash', 'tools/dist_train.sh', child, str(NPROC)]
    args += ['--work-dir', work_dir, '--cfg-options', *opts]
    out = run(args, PORT=str(free_port()), PYTHONPATH=TESTS)
    _runs[config] = dict(
        work_dir=work_dir, child=child, out=out, log=out.stdout + out.stderr)
    return _runs[config]


# In CI the two full B2Inst models (every module B2Inst adds, on both
# hosts); the hosts alone and the boundary basis alone in the extended tests.
DDP_IN_CI = ('configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py',
             'configs/b2inst_blendmask/b2inst-blendmask_r18_1xb8-12e_toy.py')


@pytest.mark.slow
@pytest.mark.parametrize(
    'config', [
        c if c in DDP_IN_CI else pytest.param(c, marks=pytest.mark.extended)
        for c in TOY_MODEL_CONFIGS
    ],
    ids=config_id)
def test_dist_train_on_cpu_keeps_replicas_identical(config, toy,
                                                    tmp_path_factory):
    assert osp.isfile(osp.join(ROOT, config)), config
    assert set(DDP_IN_CI) <= set(TOY_MODEL_CONFIGS)
    res = dist_train(config, toy, tmp_path_factory)
    log, work_dir = res['log'], res['work_dir']
    assert res['out'].returncode == 0, log[-4000:]
    assert 'Distributed training: True' in log
    assert 'Epoch(train) [1][2/2]' in log
    # find_unused_parameters=False: DDP raises these if any parameter of the
    # model got no gradient
    assert 'unused parameters' not in log
    assert 'Expected to have finished reduction' not in log

    dumps = {
        (r, s): torch.load(osp.join(work_dir, f'rank{r}_{s}.pth'))
        for r in range(NPROC)
        for s in ('before', 'after')
    }
    for d in dumps.values():
        assert d['wrapper'] == 'MMDistributedDataParallel'
        assert d['world_size'] == NPROC
    params = dumps[0, 'after']['params']
    assert len(params) > 50
    before = [d['state'] for (r, s), d in dumps.items() if s == 'before']
    after = [d['state'] for (r, s), d in dumps.items() if s == 'after']
    # same start on both ranks, and training moved the weights
    assert unequal_tensors(before[0], before[1]) == []
    assert len([
        n for n in params if not torch.equal(before[0][n], after[0][n])
    ]) > 0.9 * len(params)
    # DDP averaged the gradients: both replicas hold the same weights (BN
    # running statistics stay per rank: broadcast_buffers=False, as
    # MMEngine's default)
    assert [n for n in params
            if not torch.equal(after[0][n], after[1][n])] == []
    # rank 0 wrote the checkpoint, with its weights
    ckpt = load_state(osp.join(work_dir, 'epoch_1.pth'))
    assert unequal_tensors(ckpt['state_dict'], after[0]) == []
    # RNGStateHook gathered both ranks' random states; their data-loader
    # workers are seeded per rank
    ranks = ckpt['rng_state']['ranks']
    assert len(ranks) == NPROC
    assert unequal_tensors(ranks[0]['workers'], ranks[1]['workers']) != []


def predict_in_process(config, ckpt, data_root, gen):
    """``{img_id: pred_instances}`` of the toy val images, one at a time."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.data_root, dataset_cfg.generator = data_root + '/', gen
    with mmengine_checkpoints():
        model = init_detector(cfg, ckpt, device='cpu')
    dataset = DATASETS.build(dataset_cfg)
    preds = {}
    with torch.no_grad():
        for i in range(len(dataset)):
            [pred] = model.test_step(pseudo_collate([dataset[i]]))
            preds[pred.img_id] = pred.pred_instances
    return preds


@pytest.mark.slow
def test_dist_test_on_cpu_predicts_each_image_once(toy, tmp_path_factory,
                                                   tmp_path):
    """`bash tools/dist_test.sh` splits the images over 2 processes and
    gathers every image's prediction once: those of the model run here."""
    config = DDP_IN_CI[0]  # its DDP run is shared with the test above
    res = dist_train(config, toy, tmp_path_factory)
    assert res['out'].returncode == 0, res['log'][-4000:]
    data_root, gen = toy
    ann = f'{data_root}/annotations/instances_val.json'
    opts = [
        'test_dataloader.batch_size=1', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        f'test_dataloader.dataset.data_root={data_root}/'
    ] + [f'test_dataloader.dataset.generator.{k}={v}' for k, v in gen.items()]
    opts += [f'test_evaluator.{i}.ann_file={ann}' for i in (0, 1)]
    ckpt, pkl = osp.join(res['work_dir'],
                         'epoch_1.pth'), str(tmp_path / 'p.pkl')
    args = ['bash', 'tools/dist_test.sh', res['child'], ckpt, str(NPROC)]
    args += ['--work-dir', str(tmp_path), '--out', pkl, '--cfg-options']
    out = run(args + opts, PORT=str(free_port()), PYTHONPATH=TESTS)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in log  # (MMEngine's wording)
    assert 'coco/segm_mAP' in log and 'boundary/boundary_mAP' in log
    with open(pkl, 'rb') as f:
        dist = pickle.load(f)
    ids = [p['img_id'] for p in dist]
    assert len(ids) == gen['num_val'] and len(set(ids)) == len(ids)
    here = predict_in_process(config, ckpt, data_root, gen)
    assert sorted(here) == sorted(ids)
    for p in dist:
        got, want = p['pred_instances'], here[p['img_id']]
        assert len(got['scores']) == len(want.scores) > 0
        assert torch.equal(got['labels'], want.labels)
        torch.testing.assert_close(got['scores'], want.scores)
        torch.testing.assert_close(got['bboxes'], want.bboxes)


@pytest.mark.parametrize('script,args,passed', [
    ('slurm_train.sh', ['CFG.py', 'work/x'], ['CFG.py', '--work-dir=work/x']),
    ('slurm_test.sh', ['CFG.py', 'ckpt.pth'], ['CFG.py', 'ckpt.pth']),
])
def test_slurm_scripts_pass_the_run_to_srun(tmp_path, script, args, passed):
    """tools/slurm_{train,test}.sh (no Slurm here): the srun command they
    build."""
    fake = tmp_path / 'srun'
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    fake.chmod(0o755)
    cmd = ['bash', f'tools/{script}', 'gpu', 'job1', *args]
    cmd += ['--cfg-options', 'a=1']
    out = run(
        cmd,
        PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}',
        GPUS='16',
        SRUN_ARGS='--time=1:00:00 --qos=high')
    assert out.returncode == 0, out.stderr
    srun_args = out.stdout.splitlines()
    assert srun_args[:7] == [
        '-p', 'gpu', '--job-name=job1', '--gres=gpu:8', '--ntasks=16',
        '--ntasks-per-node=8', '--cpus-per-task=5'
    ]
    assert srun_args[7:10] == [
        '--kill-on-bad-exit=1', '--time=1:00:00', '--qos=high'
    ]
    tool = osp.join(ROOT, 'tools', script.replace('slurm_', '')[:-3] + '.py')
    assert srun_args[11:] == [
        '-u', tool, *passed, '--launcher=slurm', '--cfg-options', 'a=1'
    ]


def test_cpu_setup_leaves_gpu_and_single_process_runs_alone(monkeypatch):
    """With CUDA, or without a launcher, the config stays as it is (MMEngine's
    own path: nccl from env_cfg, DDP with device_ids=[LOCAL_RANK])."""
    cfg = Config.fromfile(osp.join(ROOT, TOY_MODEL_CONFIGS[0]))
    cfg.model.backbone.norm_cfg = dict(type='SyncBN', requires_grad=True)
    before = cfg.to_dict()
    cfg.launcher = 'none'
    assert setup_cpu_distributed(cfg) is False
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    for launcher in ('pytorch', 'slurm'):
        cfg.launcher = launcher
        assert setup_cpu_distributed(cfg) is False
    cfg.pop('launcher')
    assert cfg.to_dict() == before


def test_cpu_setup_refuses_what_cannot_run_on_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = Config.fromfile(osp.join(ROOT, TOY_MODEL_CONFIGS[0]))
    cfg.launcher = 'slurm'
    with pytest.raises(UserInputError, match='tools/dist_train.sh'):
        setup_cpu_distributed(cfg)
    cfg.launcher = 'pytorch'
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(UserInputError, match='RANK, WORLD_SIZE'):
        setup_cpu_distributed(cfg)
    assert 'model_wrapper_cfg' not in cfg
