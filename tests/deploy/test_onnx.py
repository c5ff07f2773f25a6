"""ONNX export of the four hosts, checked with onnxruntime against PyTorch:
the graphs' outputs, end-to-end detections, dynamic input sizes, and the
refusals (unsupported models, existing files)."""
import copy
import os
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from toy_runs import ROOT, load_tool

from mmb2inst.deploy import OnnxDetector, export
from mmb2inst.errors import UserInputError

pytest.importorskip('onnxruntime')
# the check of tools/deployment/export_onnx.py
export_tool = load_tool('deployment/export_onnx')

CONFIGS = [
    'configs/yolact/yolact_r18_1xb8-12e_toy.py',
    'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py',
    'configs/blendmask/blendmask_r18_1xb8-12e_toy.py',
    'configs/b2inst_blendmask/b2inst-blendmask_r18_1xb8-12e_toy.py',
]


def toy_model(config):
    """Random weights, every candidate kept; class logits spread out so
    that the ranking of detections is not decided by rounding."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.model.test_cfg.score_thr = 0.
    cfg.model.test_cfg.max_per_img = 20
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.bbox_head.conv_cls.weight.data *= 50
    return model.eval()


def batch(model, shape):
    torch.manual_seed(1)
    return model.data_preprocessor(
        demo_mm_inputs(1, [[3, *shape]], num_classes=5), False)


@pytest.mark.slow
@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_graphs_equal_pytorch(config, tmp_path):
    model = toy_model(config)
    paths = export(model, str(tmp_path))
    assert all(osp.isfile(p) for p in paths.values())
    detector = OnnxDetector(model, str(tmp_path))
    for shape in ((128, 128), (160, 192)):  # traced at 128 x 128
        data = batch(model, shape)
        diff = export_tool.compare_with_pytorch(model, detector,
                                                data['inputs'],
                                                data['data_samples'])
        assert diff['num_detections'] == 20
        assert diff['network'] < 1e-4  # relative to each output's scale
        assert diff['mask_probs'] < 1e-3
        # The scorer binarises the masks at 0.5, where random weights put
        # them: a pixel flipped by rounding moves a score by ~1e-3.
        for key in ('iou_scores', 'boundary_scores'):
            assert diff.get(key, 0.) < 2e-2
        with torch.no_grad():
            ref = model.predict(data['inputs'],
                                copy.deepcopy(
                                    data['data_samples']))[0].pred_instances
        got = detector.predict(data['inputs'],
                               copy.deepcopy(
                                   data['data_samples']))[0].pred_instances
        assert torch.equal(ref.labels, got.labels)
        assert torch.allclose(ref.bboxes, got.bboxes, atol=1e-3)
        assert torch.allclose(ref.scores, got.scores, atol=1e-4)
        assert (ref.masks != got.masks).float().mean() < 1e-3
        assert set(ref.keys()) == set(got.keys())
        for key in ('mask_scores', 'iou_scores', 'boundary_scores'):
            if key in ref:
                assert torch.allclose(ref[key], got[key], atol=2e-2)


def test_unsupported_model_is_refused_before_writing(tmp_path):
    import mmdet
    cfg = Config.fromfile(
        osp.join(
            osp.dirname(mmdet.__file__), '.mim', 'configs', 'mask_rcnn',
            'mask-rcnn_r50_fpn_1x_coco.py'))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    out = str(tmp_path / 'out')
    with pytest.raises(UserInputError, match='MaskRCNN is not a model'):
        export(model, out)
    assert not osp.exists(out)


@pytest.mark.slow
def test_existing_files_need_force(tmp_path):
    model = toy_model(CONFIGS[2])
    out = str(tmp_path)
    with open(osp.join(out, 'network.onnx'), 'w') as f:
        f.write('keep me')
    with pytest.raises(UserInputError, match='--force'):
        export(model, out)
    with open(osp.join(out, 'network.onnx')) as f:
        assert f.read() == 'keep me'
    assert not osp.exists(osp.join(out, 'instances.onnx'))
    export(model, out, force=True)
    assert os.path.getsize(osp.join(out, 'network.onnx')) > 1000


def test_box_frame_scorer_is_refused_before_writing(tmp_path):
    # Every box gets a frame of its own size: no ONNX graph can hold it.
    cfg = Config.fromfile(osp.join(ROOT, CONFIGS[3]))
    cfg.model.mask_head.scorer.target_frame = 'box'
    model = MODELS.build(cfg.model)
    out = str(tmp_path / 'out')
    with pytest.raises(UserInputError, match="target_frame='fixed'"):
        export(model, out)
    assert not osp.exists(out)
