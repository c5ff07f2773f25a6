"""B2Inst's scores and boundary map through mmdet's inference APIs
(inference_detector, the B2InstInferencer) and tools/infer.py."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.apis import inference_detector
from mmdet.registry import MODELS
from mmengine.config import Config
from toy_runs import ROOT, make_tiny_toy

from mmb2inst.apis import B2InstInferencer
from mmb2inst.utils.checkpoint import load_detector

CONFIG = osp.join(ROOT, 'configs', 'b2inst_blendmask',
                  'b2inst-blendmask_r18_1xb8-12e_toy.py')


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A random-weight toy B2Inst-BlendMask that keeps every candidate, its
    checkpoint and config file, and two toy images."""
    tmp = tmp_path_factory.mktemp('infer')
    data = str(tmp / 'toy')
    make_tiny_toy(data, num_train=1, num_val=2)
    cfg = Config.fromfile(CONFIG)
    cfg.model.test_cfg.score_thr = 0.
    cfg.model.test_cfg.max_per_img = 10
    cfg.test_dataloader.dataset.data_root = data + '/'
    config = str(tmp / 'config.py')
    cfg.dump(config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    ckpt = str(tmp / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    images = [osp.join(data, 'val', f'00000{i}.png') for i in (0, 1)]
    return config, ckpt, images, tmp


def test_inference_detector_keeps_scores_and_boundary(setup):
    config, ckpt, images, _ = setup
    model = load_detector(config, ckpt, config)
    sample = inference_detector(model, images[0])
    pred = sample.pred_instances
    assert len(pred) == 10
    for key in ('mask_scores', 'iou_scores', 'boundary_scores'):
        assert pred[key].shape == (10, )
    # Eq. (2) on the clamped factors
    expected = pred.scores * torch.sqrt(pred.iou_scores * pred.boundary_scores)
    assert torch.allclose(pred.mask_scores, expected)
    # the boundary map at stride 4 of the 128 x 128 input
    assert sample.pred_boundary.data.shape == (1, 32, 32)


def test_inferencer_predictions_carry_b2inst_scores(setup):
    config, ckpt, images, tmp = setup
    model = load_detector(config, ckpt, config)
    reference = inference_detector(model, images[0]).pred_instances
    inferencer = B2InstInferencer(
        config, ckpt, device='cpu', show_progress=False)
    out = inferencer(images[0], return_boundary=True, no_save_vis=True)
    pred = out['predictions'][0]
    assert np.allclose(pred['scores'], reference.scores.tolist(), atol=1e-6)
    for key in ('mask_scores', 'iou_scores', 'boundary_scores'):
        assert np.allclose(pred[key], reference[key].tolist(), atol=1e-6)
    assert pred['boundary_map'].shape == (32, 32)
    assert len(pred['masks']) == len(pred['mask_scores']) == 10
    plain = inferencer(images[0], no_save_vis=True)['predictions'][0]
    assert 'boundary_map' not in plain and 'mask_scores' in plain


def test_infer_tool_writes_pictures_and_json(setup):
    config, ckpt, images, tmp = setup
    from toy_runs import load_tool
    tool = load_tool('infer')
    out_dir = str(tmp / 'outputs')
    folder = osp.dirname(images[0])
    assert tool.main([folder, config, ckpt, '--out-dir', out_dir]) == 0
    for image in images:
        stem = osp.splitext(osp.basename(image))[0]
        assert osp.isfile(osp.join(out_dir, 'vis', osp.basename(image)))
        with open(osp.join(out_dir, 'preds', stem + '.json')) as f:
            pred = json.load(f)
        assert len(pred['mask_scores']) == len(pred['labels'])
        assert osp.isfile(pred['boundary_map_path'])
    with open(osp.join(out_dir, 'predictions.json')) as f:
        assert len(json.load(f)) == 2


def test_infer_tool_refuses_an_empty_folder(setup, tmp_path, capsys):
    config, ckpt, _, _ = setup
    from toy_runs import load_tool
    tool = load_tool('infer')
    with pytest.raises(SystemExit):
        tool.main([str(tmp_path), config, ckpt])
    assert 'holds no image' in capsys.readouterr().err
