"""The paper's tables from toy work_dirs (tools/paper_tables.py) and the
side-by-side pictures (tools/compare_models.py)."""
import csv
import json
import os
import os.path as osp
import sys
import time

import cv2
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.structures import InstanceData

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import compare_models  # noqa: E402
import paper_tables  # noqa: E402

YOLACT_TOY = 'configs/yolact/yolact_r18_1xb8-12e_toy.py'
B2INST_TOY = 'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py'


def fake_run(runs_dir, stem, seed, metrics=None, stamp='20260101_000000'):
    """A work_dir as MMEngine leaves it: a training record, then (when
    ``metrics`` is given) the validation record of the last epoch."""
    log = osp.join(runs_dir, f'{stem}_seed{seed}', stamp, 'vis_data',
                   stamp + '.json')
    os.makedirs(osp.dirname(log))
    records = [dict(loss=1.0, epoch=12, iter=1500, step=1500)]
    if metrics is not None:
        records.append({
            'coco/segm_mAP': metrics[0],
            'coco/segm_mAP_50': metrics[1],
            'coco/segm_mAP_75': metrics[2],
            'coco/bbox_mAP': metrics[3],
            'boundary/boundary_mAP': metrics[4],
            'coco/segm_mAP_l': -1.0,
            'step': 12
        })
    with open(log, 'w') as f:
        f.writelines(json.dumps(r) + '\n' for r in records)


def fake_configs(root, *configs):
    for config in configs:
        path = osp.join(root, config.format(S=paper_tables.TOY_SUFFIX))
        os.makedirs(osp.dirname(path), exist_ok=True)
        open(path, 'w').close()


@pytest.fixture
def table3_runs(tmp_path):
    """Table 3 with two seeds of YOLACT and B2Inst-YOLACT, one seed of
    BlendMask, two of B2Inst-BlendMask and its seed 2 still training (no
    validation record)."""
    root, runs = str(tmp_path / 'repo'), str(tmp_path / 'runs')
    fake_configs(root, paper_tables.YOLACT, paper_tables.B2INST_YOLACT,
                 paper_tables.BLENDMASK, paper_tables.B2INST_BLENDMASK_TOY)
    s = paper_tables.TOY_SUFFIX
    fake_run(runs, 'yolact' + s, 0, (0.030, 0.090, 0.010, 0.100, 0.020))
    fake_run(runs, 'yolact' + s, 1, (0.040, 0.110, 0.030, 0.120, 0.020))
    fake_run(runs, 'b2inst-yolact' + s, 0, (0.040, 0.100, 0.020, 0.100, 0.025))
    fake_run(runs, 'b2inst-yolact' + s, 1, (0.060, 0.120, 0.040, 0.140, 0.035))
    fake_run(runs, 'blendmask' + s, 0, (0.050, 0.150, 0.040, 0.200, 0.030))
    fake_run(runs, 'b2inst-blendmask_r18_scorer-2e_toy', 0,
             (0.060, 0.160, 0.050, 0.210, 0.040))
    fake_run(runs, 'b2inst-blendmask_r18_scorer-2e_toy', 1,
             (0.080, 0.180, 0.070, 0.230, 0.050))
    fake_run(runs, 'b2inst-blendmask_r18_scorer-2e_toy', 2)
    # not a seed: ignored
    fake_run(runs, 'yolact' + s, '0-old', (0.9, 0.9, 0.9, 0.9, 0.9))
    return root, runs


def test_table3_means_spreads_and_deltas(table3_runs):
    root, runs = table3_runs
    rows = paper_tables.build_table('table3', runs, root=root)
    yolact, b2inst, blend, b2blend = rows
    assert [r['row'].label for r in rows
            ] == ['YOLACT', 'B2Inst-YOLACT', 'BlendMask', 'B2Inst-BlendMask']
    assert yolact['seeds'] == [0, 1] and b2inst['seeds'] == [0, 1]
    # AP points: mean and sample std over the two seeds
    assert yolact['mean']['coco/segm_mAP'] == pytest.approx(3.5)
    assert yolact['std']['coco/segm_mAP'] == pytest.approx(0.5**0.5)
    assert yolact['mean']['coco/segm_mAP_50'] == pytest.approx(10.0)
    assert yolact['mean']['coco/segm_mAP_75'] == pytest.approx(2.0)
    assert yolact['std']['coco/segm_mAP_75'] == pytest.approx(2**0.5)
    assert yolact['std']['boundary/boundary_mAP'] == pytest.approx(0)
    assert b2inst['mean']['coco/bbox_mAP'] == pytest.approx(12.0)
    # paired by seed: segm +1 and +2, boundary +0.5 and +1.5
    assert b2inst['delta']['coco/segm_mAP'] == pytest.approx(1.5)
    assert b2inst['delta_std']['coco/segm_mAP'] == pytest.approx(0.5**0.5)
    assert b2inst['delta']['boundary/boundary_mAP'] == pytest.approx(1.0)
    assert b2inst['delta_seeds'] == [0, 1]
    assert b2inst['paper_delta'] == pytest.approx(2.0)
    # one seed: no spread; an unfinished run is not a seed
    assert blend['seeds'] == [0] and blend['std']['coco/segm_mAP'] is None
    assert b2blend['seeds'] == [0, 1]
    assert b2blend['mean']['coco/segm_mAP'] == pytest.approx(7.0)
    assert b2blend['unfinished'] == {
        2: osp.join(runs, 'b2inst-blendmask_r18_scorer-2e_toy_seed2')
    }
    # the change only on the seed the baseline has
    assert b2blend['delta_seeds'] == [0]
    assert b2blend['delta']['coco/segm_mAP'] == pytest.approx(1.0)
    assert b2blend['delta_std']['coco/segm_mAP'] is None
    assert b2blend['paper_delta'] == pytest.approx(1.0)
    # only seed 0
    rows = paper_tables.build_table('table3', runs, root=root, seeds=[0])
    assert rows[0]['seeds'] == [0] and rows[0]['std']['coco/segm_mAP'] is None
    assert rows[1]['delta']['coco/segm_mAP'] == pytest.approx(1.0)
    # only seed 1: BlendMask has none, so B2Inst-BlendMask has no change
    rows = paper_tables.build_table('table3', runs, root=root, seeds=[1])
    assert rows[2]['seeds'] == [] and rows[3]['seeds'] == [1]
    assert rows[3]['delta'] == {
        'coco/segm_mAP': None,
        'boundary/boundary_mAP': None
    }


def test_table3_markdown_csv_and_plot(table3_runs, tmp_path):
    root, runs = table3_runs
    rows = paper_tables.build_table('table3', runs, root=root)
    text, paths = paper_tables.write_outputs('table3', rows,
                                             str(tmp_path / 'out'), runs)
    lines = text.splitlines()
    assert ('| **YOLACT** | `yolact_r18_1xb8-12e_toy` | 2 | 3.50 ± 0.71 | '
            '10.00 ± 1.41 | 2.00 ± 1.41 | 11.00 ± 1.41 | 2.00 ± 0.00 | '
            'baseline | baseline | 28.1 | baseline |') in lines
    assert (
        '| B2Inst-YOLACT | `b2inst-yolact_r18_1xb8-12e_toy` | 2 | '
        '5.00 ± 1.41 | 11.00 ± 1.41 | 3.00 ± 1.41 | 12.00 ± 2.83 | '
        '3.00 ± 0.71 | +1.50 ± 0.71 | +1.00 ± 0.71 | 30.1 | +2.0 |') in lines
    assert ('| B2Inst-BlendMask | `b2inst-blendmask_r18_scorer-2e_toy` | 2 | '
            '7.00 ± 1.41 | 17.00 ± 1.41 | 6.00 ± 1.41 | 22.00 ± 1.41 | '
            '4.50 ± 0.71 | +1.00 (seed 0) | +1.00 (seed 0) | 36.8 | +1.0 |'
            ) in lines
    assert '- B2Inst-BlendMask: seed 2 is training in `{}`'.format(
        osp.join(runs, 'b2inst-blendmask_r18_scorer-2e_toy_seed2')) in lines
    assert '`bash tools/reproduce_table.sh 3`' in text
    assert open(paths[0]).read() == text
    with open(paths[1]) as f:
        table = list(csv.DictReader(f))
    assert [r['row'] for r in table
            ] == ['YOLACT', 'B2Inst-YOLACT', 'BlendMask', 'B2Inst-BlendMask']
    b2inst = table[1]
    assert b2inst['baseline'] == 'YOLACT'
    assert b2inst['config'] == B2INST_TOY
    assert b2inst['coco_config'] == (
        'configs/b2inst_yolact/b2inst-yolact_r50_1xb8-55e_coco.py')
    assert table[3]['coco_config'] == (
        'configs/b2inst_blendmask/b2inst-blendmask_r50_1x_coco.py')
    assert (b2inst['seeds'], b2inst['num_seeds']) == ('0 1', '2')
    assert float(b2inst['segm_mAP']) == 5.0
    assert float(b2inst['segm_mAP_std']) == 1.4142
    assert float(b2inst['delta_segm_mAP']) == 1.5
    assert float(b2inst['delta_segm_mAP_std']) == 0.7071
    assert float(b2inst['delta_boundary_mAP']) == 1.0
    assert float(b2inst['paper_mask_AP']) == 30.1
    assert float(b2inst['paper_delta']) == 2.0
    assert table[0]['delta_segm_mAP'] == '' and table[0]['missing'] == ''
    assert (table[3]['num_seeds'], table[3]['delta_seeds']) == ('2', '0')
    assert float(table[3]['segm_mAP']) == 7.0
    assert float(table[3]['delta_boundary_mAP']) == 1.0
    assert table[3]['delta_segm_mAP_std'] == ''
    assert table[3]['missing'].startswith('seed 2 is training in ')
    image = cv2.imread(paths[2])
    assert image.shape == (420, 600, 3)  # figsize (6, 4.2) at 100 dpi


def test_missing_configs_and_runs(tmp_path):
    root, runs = str(tmp_path / 'repo'), str(tmp_path / 'runs')
    fake_configs(root, paper_tables.BLENDMASK,
                 'configs/b2inst_blendmask/b2inst-blendmask_design-e{S}.py')
    fake_run(runs, 'blendmask' + paper_tables.TOY_SUFFIX, 0,
             (0.050, 0.150, 0.040, 0.200, 0.030))
    rows = paper_tables.build_table('table1', runs, root=root)
    assert [r['exists'] for r in rows] == [True, True, False, False, False]
    assert [r['row'].paper for r in rows] == [35.8, 36.2, 36.3, 36.6, 36.8]
    assert [round(r['paper_delta'], 1)
            for r in rows[1:]] == [0.4, 0.5, 0.8, 1.0]
    text = paper_tables.markdown('table1', rows, runs)
    assert ('| +HBB | `b2inst-blendmask_design-e_r18_1xb8-12e_toy` | — | — '
            '| — | — | — | — | — | — | 36.2 | +0.4 |') in text
    assert ('| +HBB+BS | `b2inst-blendmask_hbb-bs_r18_scorer-2e_toy` (no '
            'config) | — |') in text
    assert ('- +HBB: seed 0 not run: `SEEDS="0" bash tools/toy_ablation.sh '
            'configs/b2inst_blendmask/b2inst-blendmask_design-e_r18_1xb8-12e'
            '_toy.py`') in text
    assert ('- +HBB+BS+MS: `configs/b2inst_blendmask/b2inst-blendmask_r18_'
            'scorer-2e_toy.py` does not exist yet') in text
    # asked for seeds 0 and 1: the baseline lacks seed 1
    assert paper_tables.status(
        rows[0], seeds=[0, 1]).startswith('seed 1 not run: `SEEDS="1" bash')
    assert paper_tables.status(rows[0]) == ''


def test_table2_paper_numbers_and_model_choice(tmp_path):
    rows = paper_tables.build_table('table2_yolact', str(tmp_path))
    assert [r['row'].label
            for r in rows] == ['YOLACT', '(a)', '(b)', '(c)', '(d)', '(e)']
    assert [r['config'] for r in rows][1::4] == [
        'configs/b2inst_yolact/b2inst-yolact_design-a_r18_1xb8-12e_toy.py',
        'configs/b2inst_yolact/b2inst-yolact_design-e_r18_1xb8-12e_toy.py'
    ]
    assert [round(r['paper_delta'], 1)
            for r in rows[1:]] == [-0.1, 0.2, 0.2, 0.2, 0.4]
    text = paper_tables.markdown('table2_yolact', rows, str(tmp_path))
    assert '| paper mask AP (BlendMask) | paper Δ |' in text
    assert 'bash tools/reproduce_table.sh 2 --model yolact' in text
    assert paper_tables.parse_args(['--table', '2']).key == 'table2_blendmask'
    with pytest.raises(SystemExit):
        paper_tables.parse_args(['--table', '1', '--model', 'yolact'])
    # --run trains into work_dirs/ablation only
    with pytest.raises(SystemExit):
        paper_tables.parse_args(
            ['--table', '3', '--run', '--runs-dir',
             str(tmp_path)])


def test_run_trains_missing_and_resumes_stopped_runs(table3_runs, monkeypatch):
    root, runs = table3_runs
    s = paper_tables.TOY_SUFFIX
    # BlendMask without its config: never trained
    os.remove(osp.join(root, paper_tables.BLENDMASK.format(S=s)))
    calls = []

    class Done:
        returncode = 0

    def fake_run(args, cwd, env):
        calls.append((env['SEEDS'], env['JOBS'], args[2:]))
        return Done()

    monkeypatch.setattr(paper_tables.subprocess, 'run', fake_run)
    rows = paper_tables.build_table('table3', runs, root=root)
    assert paper_tables.train_missing(rows, [0, 1, 2], jobs=2)
    # B2Inst-BlendMask's seed 2 is training: left alone
    assert calls == [('2', '2', [YOLACT_TOY, B2INST_TOY])]
    # an hour without a write: it stopped, and is resumed
    stopped = rows[3]['unfinished'][2]
    hour_ago = time.time() - 3600
    for folder, _, files in os.walk(stopped):
        for name in files:
            os.utime(osp.join(folder, name), (hour_ago, hour_ago))
    rows = paper_tables.build_table('table3', runs, root=root)
    b2blend_toy = paper_tables.B2INST_BLENDMASK_TOY
    assert paper_tables.status(rows[3]) == (
        f'seed 2 stopped before its validation (see `{stopped}/train.out`); '
        f'resume: `SEEDS="2" bash tools/toy_ablation.sh {b2blend_toy}`')
    calls.clear()
    assert paper_tables.train_missing(rows, [0, 1, 2], jobs=2)
    assert calls == [('2', '2', [YOLACT_TOY, B2INST_TOY, b2blend_toy])]
    # only seeds 0 and 1: nothing to do
    calls.clear()
    assert paper_tables.train_missing(rows, [0, 1], jobs=1)
    assert calls == []


def test_enlarge_and_titled_row():
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


def test_compare_models_pictures(tmp_path):
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
