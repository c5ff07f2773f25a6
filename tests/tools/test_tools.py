"""The entry points users type: `mim train mmb2inst`, `--resume`,
`mim test mmb2inst`, and what they say on bad input. Also the checkpoint
round trip under torch >= 2.6 (``weights_only``)."""
import glob
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint
from toy_runs import ROOT

from mmb2inst.utils.checkpoint import (CheckpointMismatchError,
                                       check_checkpoint_matches, load_detector,
                                       load_local_checkpoint,
                                       mmengine_checkpoints)

YOLACT_TOY = 'configs/yolact/yolact_r18_1xb8-12e_toy.py'
B2INST_TOY = 'configs/b2inst_yolact/b2inst-yolact_hbb_r18_1xb8-12e_toy.py'
BIN = osp.dirname(sys.executable)


def tiny_toy_options(data_root):
    """--cfg-options for a 16-image toy run of one 4-iteration epoch."""
    gen = dict(num_train=16, num_val=8, img_size=128, seed=3)
    ann = f'{data_root}/annotations/instances_val.json'
    opts = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1']
    # the toy configs evaluate with CocoMetric and BoundaryAPMetric
    opts += [
        f'{split}_evaluator.{i}.ann_file={ann}' for split in ('val', 'test')
        for i in (0, 1)
    ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [
            f'{loader}.batch_size=4', f'{loader}.num_workers=0',
            f'{loader}.persistent_workers=False',
            f'{loader}.dataset.data_root={data_root}/'
        ]
        opts += [f'{loader}.dataset.generator.{k}={v}' for k, v in gen.items()]
    return opts


def run(args, cwd=ROOT):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'])
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def mim(*args, **kwargs):
    return run([osp.join(BIN, 'mim'), *args], **kwargs)


def tool(name, *args, **kwargs):
    return run([sys.executable,
                osp.join(ROOT, 'tools', name), *args], **kwargs)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A one-epoch toy YOLACT run through `mim train`."""
    tmp = tmp_path_factory.mktemp('mim')
    data_root, work_dir = str(tmp / 'toy'), str(tmp / 'work')
    opts = tiny_toy_options(data_root)
    out = mim('train', 'mmb2inst', YOLACT_TOY, '--work-dir', work_dir,
              '--cfg-options', *opts)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return dict(data_root=data_root, work_dir=work_dir, opts=opts)


@pytest.mark.slow
def test_mim_train_writes_checkpoint_and_validates(trained):
    work_dir = trained['work_dir']
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('epoch_1.pth')
    # the toy data was generated on first use, both splits
    assert osp.isfile(
        osp.join(trained['data_root'], 'annotations', 'instances_val.json'))


@pytest.mark.slow
def test_tables_scores_a_run_on_the_extended_val_split(trained, tmp_path):
    """toy_tables.py --val-images --val-seed: a real run scored by
    tools/test.py on 12 images of generator seed 3 (the configs test in
    batches of 8: two iterations), without pictures, into
    ``<run>/val12-seed3/``."""
    from toy_runs import load_tool

    from mmb2inst.datasets import ensure_toy_dataset
    load_tool('analysis_tools/toy_tables')
    from ablation import run_queue as tables
    from ablation.run_logs import latest_metrics
    work_dir = trained['work_dir']
    settings = dict(num_train=0, num_val=12, img_size=128, seed=3)
    data_root = str(tmp_path / 'toy_val12') + '/'
    ensure_toy_dataset(data_root, settings)
    options = tables.eval_options(YOLACT_TOY, data_root, settings)
    assert tables._evaluate_one(YOLACT_TOY, work_dir, 12, 3, options, 1)
    out = tables.eval_dir(work_dir, 12, 3)
    assert out == osp.join(work_dir, 'val12-seed3')
    with open(osp.join(out, 'test.out')) as f:
        log = f.read()
    assert 'Epoch(test) [2/2]' in log and 'Epoch(test) [1/1]' not in log
    assert not glob.glob(osp.join(out, '*', 'vis_data', 'vis_image', '*'))
    _, score = latest_metrics(out, mode='test')
    assert {'coco/segm_mAP', 'coco/bbox_mAP',
            'boundary/boundary_mAP'} <= set(score)


@pytest.mark.slow
def test_mim_resume_continues_from_last_epoch(trained):
    work_dir = trained['work_dir']
    before = open(osp.join(work_dir, 'epoch_1.pth'), 'rb').read()
    out = mim('train', 'mmb2inst', YOLACT_TOY, '--work-dir', work_dir,
              '--resume', '--cfg-options', *trained['opts'],
              'train_cfg.max_epochs=2')
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert 'resumed epoch: 1, iter: 4' in log
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))
    # resuming did not rewrite the earlier checkpoint
    assert open(osp.join(work_dir, 'epoch_1.pth'), 'rb').read() == before


@pytest.mark.slow
def test_mim_test_from_saved_checkpoint(trained):
    work_dir = trained['work_dir']
    pkl = osp.join(work_dir, 'preds.pkl')
    out = mim('test', 'mmb2inst', YOLACT_TOY, '--checkpoint',
              osp.join(work_dir, 'epoch_1.pth'), '--work-dir', work_dir,
              '--out', pkl, '--cfg-options', *trained['opts'])
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert 'coco/segm_mAP' in log and 'coco/bbox_mAP' in log
    assert osp.getsize(pkl) > 0


@pytest.mark.slow
def test_fresh_run_refuses_to_overwrite_checkpoints(trained):
    work_dir = trained['work_dir']
    stamp = {
        f: os.stat(osp.join(work_dir, f)).st_mtime_ns
        for f in os.listdir(work_dir) if f.endswith('.pth')
    }
    out = tool('train.py', YOLACT_TOY, '--work-dir', work_dir, '--cfg-options',
               *trained['opts'])
    assert out.returncode == 1
    assert 'already holds checkpoints' in out.stderr
    assert '--resume' in out.stderr
    assert 'Traceback' not in out.stderr
    assert stamp == {
        f: os.stat(osp.join(work_dir, f)).st_mtime_ns
        for f in os.listdir(work_dir) if f.endswith('.pth')
    }


@pytest.mark.slow
def test_checkpoint_round_trip_under_weights_only(trained):
    ckpt = osp.join(trained['work_dir'], 'epoch_1.pth')
    probe = ('from mmengine.runner.checkpoint import _load_checkpoint; '
             f'_load_checkpoint({ckpt!r}); print("loaded")')
    # torch >= 2.6 refuses MMEngine's own checkpoints (message hub), also
    # after import mmb2inst (which changes nothing in MMEngine)...
    out = run([sys.executable, '-c', 'import mmb2inst; ' + probe])
    assert out.returncode != 0 and 'weights_only' in out.stderr
    # ...and MMEngine reads them where mmb2inst asks for it, still with
    # weights_only=True.
    with mmengine_checkpoints():
        raw = _load_checkpoint(ckpt)
        model = MODELS.build(Config.fromfile(osp.join(ROOT, YOLACT_TOY)).model)
        load_checkpoint(model, ckpt, map_location='cpu', strict=True)
    assert raw['meta']['epoch'] == 1
    for key, value in model.state_dict().items():
        assert torch.equal(value, raw['state_dict'][key]), key
    check_checkpoint_matches(model, ckpt)  # no error
    # the allow-list is scoped to MMEngine's loader: plain torch.load stays
    # as strict as torch made it
    with pytest.raises(Exception, match='Unsupported global'):
        torch.load(ckpt)


@pytest.mark.slow
def test_load_detector_reads_weights_and_meta_once(trained, tmp_path):
    """What the picture and score tools load: the checkpoint's weights
    (also from a DDP-wrapped run's ``module.`` keys), its dataset meta, eval
    mode; another model's checkpoint is refused."""
    ckpt = osp.join(trained['work_dir'], 'epoch_1.pth')
    raw = load_local_checkpoint(ckpt)
    ddp = dict(
        raw,
        state_dict={
            f'module.{k}': v
            for k, v in raw['state_dict'].items()
        })
    torch.save(ddp, tmp_path / 'ddp.pth')

    def cfg(path=YOLACT_TOY):
        cfg = Config.fromfile(osp.join(ROOT, path))
        cfg.merge_from_dict(
            dict(
                arg.split('=', 1) for arg in trained['opts']
                if 'dataset.data_root' in arg))
        return cfg

    for path in (ckpt, str(tmp_path / 'ddp.pth')):
        model = load_detector(cfg(), path, images_only=True)
        assert not model.training
        for key, value in model.state_dict().items():
            assert torch.equal(value, raw['state_dict'][key]), key
        assert model.dataset_meta['classes'] == tuple(
            raw['meta']['dataset_meta']['classes'])
        assert all(t['type'] != 'LoadAnnotations'
                   for t in model.cfg.test_dataloader.dataset.pipeline)
    with pytest.raises(CheckpointMismatchError, match='does not match'):
        load_detector(cfg(B2INST_TOY), ckpt)


@pytest.mark.slow
def test_vis_bases_writes_pictures(trained, tmp_path):
    out = tool('analysis_tools/vis_bases.py', YOLACT_TOY,
               osp.join(trained['work_dir'], 'epoch_1.pth'), '--num', '2',
               '--out-dir', str(tmp_path), '--cfg-options', *trained['opts'])
    assert out.returncode == 0, out.stderr[-2000:]
    assert sorted(os.listdir(tmp_path)) == ['000000.png', '000001.png']


@pytest.mark.slow
def test_checkpoint_of_another_model_is_refused(trained):
    ckpt = osp.join(trained['work_dir'], 'epoch_1.pth')
    model = MODELS.build(Config.fromfile(osp.join(ROOT, B2INST_TOY)).model)
    with pytest.raises(CheckpointMismatchError, match='does not match'):
        check_checkpoint_matches(model, ckpt)
    out = tool('test.py', B2INST_TOY, ckpt, '--work-dir', trained['work_dir'],
               '--cfg-options', *trained['opts'])
    assert out.returncode == 1
    assert 'does not match the model' in out.stderr
    assert 'mask_head.boundary' in out.stderr  # names missing weights
    assert 'Traceback' not in out.stderr


@pytest.mark.slow
def test_missing_dataset_is_a_clear_error(tmp_path):
    out = tool(
        'train.py',
        osp.join(ROOT, 'configs/yolact/'
                 'yolact_r50_1xb8-55e_coco.py'),
        '--work-dir',
        str(tmp_path / 'w'),
        cwd=str(tmp_path))
    assert out.returncode == 1
    assert 'Dataset not found' in out.stderr
    assert 'data/coco/annotations/instances_train2017.json' in out.stderr
    assert '--cfg-options' in out.stderr
    assert 'Traceback' not in out.stderr


@pytest.mark.slow
def test_unknown_type_names_the_key(trained, tmp_path):
    out = tool('train.py', YOLACT_TOY, '--work-dir', str(tmp_path / 'w'),
               '--cfg-options', *trained['opts'],
               'model.backbone.type=ResNeet')
    assert out.returncode == 1
    assert "unknown type 'ResNeet'" in out.stderr
    assert 'model.backbone.type' in out.stderr
    assert "'ResNet'" in out.stderr  # the suggestion
    assert 'Traceback' not in out.stderr


@pytest.mark.slow
def test_corrupt_image_is_a_clear_error(trained, tmp_path):
    data_root = str(tmp_path / 'toy')
    shutil.copytree(trained['data_root'], data_root)
    with open(osp.join(data_root, 'val', '000003.png'), 'wb') as f:
        f.write(b'not a png at all')
    opts = [
        o.replace(trained['data_root'], data_root) for o in trained['opts']
    ]
    out = tool('test.py', YOLACT_TOY,
               osp.join(trained['work_dir'], 'epoch_1.pth'), '--work-dir',
               str(tmp_path / 'w'), '--cfg-options', *opts)
    assert out.returncode == 1
    assert 'Could not read the image' in out.stderr
    assert '000003.png' in out.stderr


@pytest.mark.parametrize('show', [[], ['--show-dir', 'vis']])
def test_test_draws_only_with_show_dir(tmp_path, monkeypatch, show):
    """The B2Inst toy configs set draw=True for their validation pictures;
    a test without --show-dir must not draw every test image (mmdet's hook
    ignores the interval in a test)."""
    from toy_runs import load_tool
    test = load_tool('test')
    ckpt = tmp_path / 'epoch_1.pth'
    ckpt.write_bytes(b'')
    config = osp.join(ROOT, B2INST_TOY)
    assert Config.fromfile(config).default_hooks.visualization.draw is True
    monkeypatch.setattr(sys, 'argv', [
        'test.py', config,
        str(ckpt), '--work-dir',
        str(tmp_path / 'w'), *show
    ])
    cfg = test.test_config(test.parse_args())
    assert cfg.default_hooks.visualization.draw is bool(show)
    if show:
        assert cfg.default_hooks.visualization.test_out_dir == 'vis'
