"""The boundary panel of the visualizer and the basis pictures."""
import os.path as osp

import numpy as np
import torch
from mmdet.registry import MODELS, VISUALIZERS
from mmdet.structures import DetDataSample
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.structures import InstanceData, PixelData
from toy_runs import ROOT

from mmb2inst.visualization import (bases_figure, boundary_on_image,
                                    capture_bases)

B2INST_TOY = osp.join(
    ROOT, 'configs/b2inst_yolact/b2inst-yolact_hbb_r18_1xb8-12e_toy.py')


def test_boundary_on_image_crops_padding_and_resizes():
    # An 8x8 map over a 64x64 padded input whose image is 32 (h) x 48 (w):
    # the image covers the top-left 4x6 cells.
    prob = torch.zeros(1, 8, 8)
    prob[0, :4, :6] = 1.0
    meta = dict(batch_input_shape=(64, 64), img_shape=(32, 48))
    panel = boundary_on_image(prob, meta, (20, 30))
    assert panel.shape == (20, 30, 3) and panel.dtype == np.uint8
    # everything shown is inside the image: uniformly the colour of 1.0
    assert (panel == panel[0, 0]).all()
    hot = boundary_on_image(torch.ones(1, 8, 8), meta, (20, 30))
    assert (panel == hot).all()


def test_visualizer_appends_boundary_panel(tmp_path):
    vis = VISUALIZERS.build(
        dict(type='B2InstLocalVisualizer', name='test_b2inst_vis'))
    vis.dataset_meta = dict(classes=('a', 'b'), palette=[(255, 0, 0)] * 2)
    image = np.zeros((40, 50, 3), dtype=np.uint8)
    sample = DetDataSample(
        metainfo=dict(img_shape=(40, 50), batch_input_shape=(40, 50)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[5., 5., 20., 20.]]), labels=torch.tensor([0]))
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[5., 5., 20., 20.]]),
        labels=torch.tensor([0]),
        scores=torch.tensor([0.9]))
    vis.add_datasample('x', image, sample, out_file=str(tmp_path / 'a.png'))
    plain = vis.get_image()
    assert plain.shape == (40, 100, 3)  # gt | pred, exactly mmdet's
    sample.pred_boundary = PixelData(data=torch.rand(1, 10, 13))
    out = str(tmp_path / 'sub' / 'b.png')
    vis.add_datasample('x', image, sample, out_file=out)
    drawn = vis.get_image()
    assert drawn.shape == (40, 150, 3)  # gt | pred | boundary
    assert (drawn[:, :100] == plain).all()
    assert osp.isfile(out)
    # the visualizer's own add_image is back in place
    assert 'add_image' not in vars(vis)


def test_capture_bases_and_figure():
    model = MODELS.build(Config.fromfile(B2INST_TOY).model)
    model.eval()
    data = model.data_preprocessor(
        demo_mm_inputs(1, [[3, 64, 64]], num_classes=5), False)
    with capture_bases(model) as store, torch.no_grad():
        samples = model.predict(data['inputs'], data['data_samples'])
    assert store['bases'].shape == (1, 32, 16, 16)
    assert store['boundary'].shape == (1, 1, 16, 16)
    assert torch.allclose(store['boundary'][0], samples[0].pred_boundary.data)
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    fig = bases_figure(
        image,
        image,
        store['bases'][0],
        store['boundary'][0],
        samples[0].metainfo,
        tile=32,
        cols=8)
    # top row: 3 panels of 64 px; then 32 bases in 4 rows of 8 tiles
    assert fig.shape == (64 + 4 * 32, 256, 3)
    # hooks are removed afterwards
    assert not model.mask_head.protonet[-1]._forward_hooks
