"""The COCO test-dev configs (Table 4): each is its val config tested on
test-dev's image records, and writes a results file in COCO's results
format that the evaluation server reads."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
from coco_runs import REDUCED_SCALE, input_scale_options
from mmengine.config import Config
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from toy_runs import ROOT

TEST_DEV_CONFIGS = sorted(
    osp.relpath(p, ROOT)
    for p in glob.glob(osp.join(ROOT, 'configs', '*', '*_coco-test-dev.py')))
TEST_KEYS = ('test_dataloader', 'test_evaluator')


def val_config(config: str) -> str:
    return config.replace('_coco-test-dev.py', '_coco.py')


def test_test_dev_configs_cover_table_4():
    names = {osp.basename(c) for c in TEST_DEV_CONFIGS}
    assert names == {
        'b2inst-blendmask_r50_1x_coco-test-dev.py',
        'b2inst-blendmask_r50_3x_coco-test-dev.py',
        'b2inst-blendmask_r101_1x_coco-test-dev.py',
        'b2inst-blendmask_r101_3x_coco-test-dev.py',
        'blendmask_r50-ss_1x_coco-test-dev.py',
    }


@pytest.mark.parametrize('config', TEST_DEV_CONFIGS)
def test_test_dev_config_is_its_val_config_on_test_dev(config):
    cfg = Config.fromfile(osp.join(ROOT, config)).to_dict()
    val = Config.fromfile(osp.join(ROOT, val_config(config))).to_dict()
    assert {k for k in cfg if cfg[k] != val.get(k)} == set(TEST_KEYS)
    # the val config's test loader, on test-dev's image records
    loader, val_loader = cfg['test_dataloader'], val['test_dataloader']
    assert loader['dataset'].pop('ann_file') == \
        'annotations/image_info_test-dev2017.json'
    assert loader['dataset'].pop('data_prefix') == dict(img='test2017/')
    del val_loader['dataset']['ann_file'], val_loader['dataset']['data_prefix']
    assert loader == val_loader
    name = osp.splitext(osp.basename(config))[0]
    assert cfg['test_evaluator'] == dict(
        type='CocoMetric',
        metric=['bbox', 'segm'],
        format_only=True,
        ann_file='data/coco/annotations/image_info_test-dev2017.json',
        outfile_prefix=f'work_dirs/{name}/detections_test-dev2017_'
        f"{name.replace('_coco-test-dev', '').replace('_', '-')}_results")


@pytest.mark.slow
def test_test_dev_run_writes_results_the_server_reads(coco_root, tmp_path):
    # B2Inst-BlendMask R-50 1x (random weights, every candidate kept, input
    # scaled by REDUCED_SCALE) tested on the synthetic set's test-dev split.
    from mmb2inst.utils.run_checks import build_runner
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'b2inst_blendmask',
                 'b2inst-blendmask_r50_1x_coco-test-dev.py'))
    info = f'{coco_root}/annotations/image_info_test-dev2017.json'
    prefix = str(tmp_path / 'detections_test-dev2017_b2inst_results')
    opts = input_scale_options(cfg, REDUCED_SCALE)
    opts.update({
        'model.backbone.init_cfg': None,
        'model.test_cfg.score_thr': 0.,
        'test_dataloader.dataset.data_root': coco_root + '/',
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'test_evaluator.ann_file': info,
        'test_evaluator.outfile_prefix': prefix,
    })
    cfg.merge_from_dict(opts)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.load_from = None
    build_runner(cfg).test()

    image_info = COCO(info)
    assert 'annotations' not in image_info.dataset
    results = {}
    for kind in ('bbox', 'segm'):
        with open(f'{prefix}.{kind}.json') as f:
            results[kind] = json.load(f)
        dets = results[kind]
        assert dets and isinstance(dets, list)
        assert {d['image_id'] for d in dets} <= set(image_info.getImgIds())
        assert {d['category_id'] for d in dets} <= set(image_info.getCatIds())
        assert all(isinstance(d['score'], float) for d in dets)
        # what the server does with it
        loaded = image_info.loadRes(f'{prefix}.{kind}.json')
        assert len(loaded.getAnnIds()) == len(dets)
    for det in results['segm']:
        rle = det['segmentation']
        img = image_info.imgs[det['image_id']]
        assert rle['size'] == [img['height'], img['width']]
        assert isinstance(rle['counts'], str)
        assert mask_utils.decode(dict(
            rle, counts=rle['counts'].encode())).shape == (img['height'],
                                                           img['width'])
    # The same detections in both files; masks ranked by Eq. (2), the class
    # score times sqrt(S_IoU * S_boundary), which is below the class score.
    bbox, segm = results['bbox'], results['segm']
    assert [(d['image_id'], d['category_id']) for d in bbox] == \
        [(d['image_id'], d['category_id']) for d in segm]
    box_scores = np.array([d['score'] for d in bbox])
    mask_scores = np.array([d['score'] for d in segm])
    assert (mask_scores <= box_scores + 1e-6).all()
    assert (mask_scores < box_scores - 1e-6).any()
