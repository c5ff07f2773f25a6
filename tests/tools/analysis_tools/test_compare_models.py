"""tools/analysis_tools/compare_models.py: side-by-side pictures of two models
(the paper's Fig. 4/5)."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.structures import InstanceData
from toy_runs import ROOT, load_tool

YOLACT_TOY = 'configs/yolact/yolact_r18_1xb8-12e_toy.py'
B2INST_TOY = 'configs/b2inst_yolact/b2inst-yolact_hbb_r18_1xb8-12e_toy.py'


@pytest.fixture(scope='module')
def compare_models():
    return load_tool('analysis_tools/compare_models')


def test_enlarge_and_titled_row(compare_models):
    masks = np.zeros((3, 2, 3), dtype=bool)
    masks[0, 0, 0] = masks[2, 1, 2] = True  # mask 1 is empty
    inst = InstanceData(
        masks=torch.from_numpy(masks),
        labels=torch.tensor([4, 1, 2]),
        scores=torch.tensor([0.9, 0.8, 0.2]))
    big = compare_models.enlarge(inst, 2, score_thr=0.3)
    assert big.labels.tolist() == [4]
    assert big.masks.shape == (1, 4, 6) and big.masks.sum() == 4
    assert big.masks[0, :2, :2].all()
    assert compare_models.enlarge(inst, 1).labels.tolist() == [4, 2]
    panels = [np.zeros((50, 60, 3), np.uint8)] * 3
    row = compare_models.titled_row(panels, ['a', 'b', 'c'])
    title, gap = compare_models.TITLE_HEIGHT, compare_models.GAP
    assert row.shape == (title + 50, 3 * 60 + 2 * gap, 3)
    assert (row[title:, :60] == 0).all()
    assert (row[:, 60:60 + gap] == 255).all()


@pytest.mark.slow
def test_compare_models_pictures(compare_models, tmp_path):
    data_root = str(tmp_path / 'toy')
    opts = [
        f'test_dataloader.dataset.data_root={data_root}/',
        'test_dataloader.dataset.generator.num_train=1',
        'test_dataloader.dataset.generator.num_val=2',
        'test_dataloader.dataset.generator.img_size=64',
        'test_dataloader.dataset.generator.seed=5'
    ]
    ckpts = []
    torch.manual_seed(0)
    for config in (YOLACT_TOY, B2INST_TOY):
        model = MODELS.build(Config.fromfile(osp.join(ROOT, config)).model)
        ckpts.append(str(tmp_path / (osp.basename(config) + '.pth')))
        torch.save(dict(state_dict=model.state_dict(), meta={}), ckpts[-1])
    yolact = [osp.join(ROOT, YOLACT_TOY), ckpts[0]]
    b2inst = [osp.join(ROOT, B2INST_TOY), ckpts[1]]
    out = str(tmp_path / 'out')
    written = compare_models.main([
        *yolact, *b2inst, '--num', '1', '--out-dir', out, '--score-thr', '0.1',
        '--cfg-options', *opts
    ])
    assert written == [osp.join(out, '000000.png')]
    # 64 px images enlarged 6x under 28 px titles; GT | YOLACT | B2Inst |
    # boundary, 4 px apart
    picture = cv2.imread(written[0])
    assert picture.shape == (28 + 384, 4 * 384 + 3 * 4, 3)
    assert (picture[:, 384:388] == 255).all()
    # the second model without a boundary map: no boundary panel; an image
    # given by path has no GT panel
    image = osp.join(data_root, 'val', '000001.png')
    written = compare_models.main([
        *b2inst, *yolact, '--img', image, '--out-dir', out, '--cfg-options',
        *opts
    ])
    assert cv2.imread(written[0]).shape == (28 + 384, 3 * 384 + 2 * 4, 3)
