"""tools/analysis_tools/toy_tables.py: rows, paired deltas with confidence
intervals, outputs, and the training of missing runs (mocked)."""
import csv
import json
import math
import os
import os.path as osp
import types

import pytest
from toy_runs import ROOT, load_tool


@pytest.fixture(scope='module')
def tables():
    """The tool's entry points (``main``, ``parse_args``) and every name of
    its modules (``ablation/``); ``tables.run_queue`` etc. are the modules,
    for monkeypatching."""
    tool = load_tool('analysis_tools/toy_tables')
    # main() reads the repository's ledger by default: not in these tests
    tool.LEDGER = '/nonexistent/toy_runs.jsonl'
    from ablation import ledger, render, rows, run_queue, stats
    names = {}
    for module in (rows, ledger, stats, render, run_queue):
        names.update(
            (k, v) for k, v in vars(module).items() if not k.startswith('__'))
    names.update(
        main=tool.main,
        parse_args=tool.parse_args,
        run_queue=run_queue,
        ledger=ledger)
    return types.SimpleNamespace(**names)


def fake_run(runs_dir, config, seed, segm, boundary, bbox=0.5, ap75=0.2):
    """A work_dir as MMEngine leaves it: a training record, then the
    validation record (fractions of 1)."""
    stamp = '20260101_000000'
    stem = osp.splitext(osp.basename(config))[0]
    log = osp.join(runs_dir, f'{stem}_seed{seed}', stamp, 'vis_data',
                   stamp + '.json')
    os.makedirs(osp.dirname(log))
    records = [
        dict(loss=1.0, epoch=12, iter=1500, step=1500), {
            'coco/segm_mAP': segm,
            'coco/segm_mAP_75': ap75,
            'coco/bbox_mAP': bbox,
            'boundary/boundary_mAP': boundary,
            'step': 12
        }
    ]
    with open(log, 'w') as f:
        f.writelines(json.dumps(r) + '\n' for r in records)


def test_every_row_config_exists(tables):
    for table in tables.TABLES:
        for model in ('blendmask', 'yolact'):
            for row in tables.table_rows(table, model):
                assert osp.isfile(osp.join(ROOT, row.toy)), row.toy
                if row.coco is not None:  # None: a toy-only ablation
                    assert osp.isfile(osp.join(ROOT, row.coco)), row.coco


def test_paper_numbers(tables):
    t1 = {r.label: r.paper for r in tables.table_rows('1')}
    assert t1 == {
        'BlendMask': 35.8,
        '+HBB': 36.2,
        '+HBB+BS': 36.3,
        '+HBB+MS': 36.6,
        '+HBB+BS+MS': 36.8,
        # the same paper row, with the scorer as the paper describes it
        '+HBB+BS+MS, paper scorer': 36.8
    }
    t2 = [r.paper for r in tables.table_rows('2')]
    assert t2 == [35.8, 35.7, 36.0, 36.0, 36.0, 36.2]
    t3 = {r.label: r.paper for r in tables.table_rows('3')}
    assert t3 == {
        'YOLACT': 28.1,
        'B2Inst-YOLACT': 30.1,
        'BlendMask': 35.8,
        'B2Inst-BlendMask': 36.8
    }
    # Table 3's B2Inst rows are both proposals (HBB + scorer), the same
    # config as Table 1's last row.
    full = {r.label: r.toy for r in tables.table_rows('1')}['+HBB+BS+MS']
    assert {
        r.label: r.toy
        for r in tables.table_rows('3')
    }['B2Inst-BlendMask'] == full


def test_crisp_table_pairs_each_deng_row_with_its_shipped_row(tables):
    rows = tables.table_rows('crisp')
    shipped = {r.label: r for r in rows if r.base is None}
    papers = {r.label: r.paper for r in shipped.values()}
    assert papers == {'B2Inst-YOLACT': 30.1, 'B2Inst-BlendMask': 36.8}
    deng = [r for r in rows if r.base is not None]
    assert len(deng) == 2
    for row in deng:
        base = shipped[row.base]
        for path, base_path in ((row.toy, base.toy), (row.coco, base.coco)):
            stem, tail = base_path.split('_r', 1)
            assert path == f'{stem}_crisp-deng_r{tail}'


def test_mean_ci_by_hand(tables):
    mean, half = tables.mean_ci([1., 2., 3.])
    # sd = 1, t(0.975, 2) = 4.303: half-width 4.303 / sqrt(3)
    assert mean == 2.
    assert half == pytest.approx(4.303 / math.sqrt(3))
    assert tables.mean_ci([2.]) == (2., None)
    assert tables.mean_ci([]) == (None, None)


def test_seeds_needed_by_hand(tables):
    # sd 1: t(0.975, n-1) / sqrt(n) <= 0.5 first at n = 18 (2.110 / 4.243
    # = 0.497; n = 17: 2.120 / 4.123 = 0.514).
    assert tables.seeds_needed([2., 3., 1.]) == 18
    assert tables.seeds_needed([2., 3., 1.], half_width=1.) == 7
    assert tables.seeds_needed([1., 1., 1.]) == 2
    assert tables.seeds_needed([1.]) is None


def test_table3_paired_deltas_and_outputs(tables, tmp_path, capsys):
    runs = str(tmp_path / 'runs')
    rows = {r.label: r.toy for r in tables.table_rows('3')}
    for seed, (y, b) in enumerate([(0.30, 0.32), (0.20, 0.23), (0.25, 0.26)]):
        fake_run(runs, rows['YOLACT'], seed, y, y / 2)
        fake_run(runs, rows['B2Inst-YOLACT'], seed, b, b / 2 + 0.01)
    fake_run(runs, rows['BlendMask'], 0, 0.4, 0.3)
    entries = tables.collect(tables.table_rows('3'), runs, [0, 1, 2])
    by = {e['row'].label: e for e in entries}
    b2 = by['B2Inst-YOLACT']
    # Paired differences: +2, +3, +1 points; mean 2, sd 1.
    assert b2['paired'] == [0, 1, 2]
    assert b2['delta']['coco/segm_mAP'] == pytest.approx(2.)
    assert b2['ci']['coco/segm_mAP'] == pytest.approx(4.303 / math.sqrt(3))
    assert by['YOLACT']['mean']['coco/segm_mAP'] == pytest.approx(25.)
    assert by['YOLACT']['std']['coco/segm_mAP'] == pytest.approx(5.)
    assert b2['paper_delta'] == pytest.approx(2.0)
    assert b2['seeds_needed'] == 18
    # B2Inst-BlendMask has no run: no delta, shown as missing.
    assert by['B2Inst-BlendMask']['delta']['coco/segm_mAP'] is None
    assert tables.main(
        ['3', '--runs-dir', runs, '--out-dir',
         str(tmp_path / 'out')]) == 0
    text = capsys.readouterr().out
    assert '| B2Inst-YOLACT | `b2inst-yolact_r18_1xb8-12e_toy` | 3 |' in text
    assert '+2.0 [-0.5, +4.5]' in text
    assert '| seeds for ±0.5 |' in text
    with open(tmp_path / 'out' / 'table3.csv') as f:
        table = list(csv.DictReader(f))
    assert table[1]['row'] == 'B2Inst-YOLACT'
    assert float(table[1]['delta_segm_mAP']) == pytest.approx(2.)
    assert table[1]['seeds_for_ci0.5_segm_mAP'] == '18'
    assert (tmp_path / 'out' / 'table3.png').stat().st_size > 1000


def test_train_missing_runs_only_what_is_missing(tables, tmp_path,
                                                 monkeypatch):
    runs = str(tmp_path / 'runs')
    rows = tables.table_rows('3')
    fake_run(runs, rows[0].toy, 0, 0.3, 0.2)
    calls = []
    monkeypatch.setattr(
        tables.run_queue, '_train_one',
        lambda config, seed, options, runs_dir, threads: calls.append(
            (config, seed, threads)) or True)
    assert tables.train_missing(rows, runs, [0, 1], jobs=2)
    expected = {(r.toy, s) for r in rows for s in (0, 1)} - {(rows[0].toy, 0)}
    assert {(c, s) for c, s, _ in calls} == expected
    assert all(t == max(1, (os.cpu_count() or 1) // 2) for *_, t in calls)


def test_threads_per_run_and_oversubscription(tables, tmp_path, monkeypatch,
                                              capsys):
    assert tables.threads_per_run(2, cores=2) == 1
    assert tables.threads_per_run(1, cores=2) == 2
    assert tables.threads_per_run(3, cores=2) == 1
    assert tables.threads_per_run(1, threads=1, cores=2) == 1
    warn = tables.oversubscription_warning
    assert warn(2, 1, 2, load=0.) is None
    assert warn(1, 2, 2, load=0.) is None
    assert warn(2, 1, 2, load=1.5) is None  # 1-thread runs do not spin
    assert '2 runs x 2 threads > 2 cores' in warn(2, 2, 2, load=0.)
    # another tables.py already training: 2-thread runs would spin-wait
    assert 'load average is 2.0' in warn(1, 2, 2, load=2.)
    # --threads reaches every run, and train_missing says so when it would
    # oversubscribe
    rows = tables.select_rows(tables.table_rows('1'), ['+HBB'])
    calls = []
    monkeypatch.setattr(
        tables.run_queue, '_train_one', lambda config, seed, options, runs_dir,
        threads: calls.append(threads) or True)
    monkeypatch.setattr(tables.run_queue.os, 'getloadavg', lambda:
                        (2., 2., 2.))
    monkeypatch.setattr(tables.run_queue.os, 'cpu_count', lambda: 2)
    assert tables.train_missing(rows, str(tmp_path), [0], jobs=1, threads=1)
    assert calls == [1, 1]
    assert 'warning' not in capsys.readouterr().out
    assert tables.train_missing(rows, str(tmp_path / 'b'), [0], jobs=1)
    assert calls[2:] == [2, 2]
    assert 'spin-wait' in capsys.readouterr().out


def dump_config(run_dir, config, drop=(), **model_changes):
    """The config a run left in its work_dir, with ``model_changes``
    (dotted keys) applied and the ``drop`` keys of the model removed."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.merge_from_dict({f'model.{k}': v for k, v in model_changes.items()})
    for key in drop:
        *parents, name = key.split('.')
        node = cfg.model
        for parent in parents:
            node = node[parent]
        node.pop(name)
    os.makedirs(run_dir, exist_ok=True)
    cfg.dump(osp.join(run_dir, osp.basename(config)))


@pytest.mark.slow
def test_stale_runs_are_set_aside_and_retrained(tables, tmp_path, monkeypatch):
    runs = str(tmp_path / 'runs')
    rows = tables.table_rows('3')
    yolact = next(r for r in rows if r.label == 'B2Inst-YOLACT').toy
    blendmask = next(r for r in rows if r.label == 'BlendMask').toy
    for row in rows:
        fake_run(runs, row.toy, 0, 0.3, 0.2)
    # A run of an earlier B2Inst-YOLACT (boundary loss weight 1): stale.
    dump_config(
        tables.work_dir(runs, yolact, 0), yolact,
        **{'mask_head.boundary.loss_boundary.loss_weight': 1.})
    # A run whose config left implicit a default the current one states
    # (FCOS's GN norm) built the same model: not stale.
    dump_config(
        tables.work_dir(runs, blendmask, 0),
        blendmask,
        drop=['bbox_head.norm_cfg'])
    assert tables.stale(tables.work_dir(runs, yolact, 0), yolact)
    assert not tables.stale(tables.work_dir(runs, blendmask, 0), blendmask)
    calls = []
    monkeypatch.setattr(
        tables.run_queue, '_train_one',
        lambda config, seed, options, runs_dir, threads: calls.append(
            (config, seed)) or True)
    assert tables.train_missing(rows, runs, [0], jobs=1)
    assert calls == [(yolact, 0)]
    aside = [d for d in os.listdir(runs) if '.stale-' in d]
    assert len(aside) == 1 and aside[0].startswith(
        osp.basename(tables.work_dir(runs, yolact, 0)) + '.stale-')
    # The table leaves a stale run out instead of reporting it.
    dump_config(
        tables.work_dir(runs, yolact, 1), yolact,
        **{'mask_head.boundary.loss_boundary.loss_weight': 1.})
    fake_run(runs, yolact, 1, 0.3, 0.2)
    entries = tables.collect(rows, runs, [1])
    entry = next(e for e in entries if e['row'].toy == yolact)
    assert entry['records'] == {}


def fake_score(run_dir,
               num_images,
               segm,
               boundary,
               bbox=0.5,
               ap75=0.2,
               seed=None):
    """A run's score on the extended (or, with ``seed``, held-out) val
    split as tools/test.py leaves it (a test record: no epoch or step)."""
    stamp = '20260102_000000'
    split = f'val{num_images}' + ('' if seed is None else f'-seed{seed}')
    log = osp.join(run_dir, split, stamp, stamp + '.json')
    os.makedirs(osp.dirname(log))
    record = {
        'coco/segm_mAP': segm,
        'coco/segm_mAP_75': ap75,
        'coco/bbox_mAP': bbox,
        'boundary/boundary_mAP': boundary
    }
    with open(log, 'w') as f:
        f.write(json.dumps(record) + '\n')


def test_extended_val_split_of_a_row(tables):
    row = tables.table_rows('3')[0]
    data_root, settings = tables.extended_val(row.toy, 2000)
    assert data_root == 'data/toy_boundary_val2000/'
    assert settings == dict(preset='boundary', num_train=0, num_val=2000)
    opts = tables.eval_options(row.toy, data_root, settings)
    ann = 'data/toy_boundary_val2000/annotations/instances_val.json'
    assert opts == [
        'test_dataloader.dataset.data_root=data/toy_boundary_val2000/',
        'test_dataloader.dataset.generator.num_train=0',
        'test_dataloader.dataset.generator.num_val=2000',
        'test_dataloader.dataset.generator.preset=boundary',
        f'test_evaluator.0.ann_file={ann}',
        f'test_evaluator.1.ann_file={ann}',
    ]


def test_extended_val_split_starts_with_the_val_images(tmp_path):
    """What makes the extension a superset: the val images (and their
    annotations) of a set are the first images of the extended split."""
    from mmb2inst.datasets import generate_toy_dataset
    common = dict(img_size=64, seed=5)
    generate_toy_dataset(
        str(tmp_path / 'val'), num_train=2, num_val=3, **common)
    generate_toy_dataset(
        str(tmp_path / 'ext'), num_train=0, num_val=5, **common)
    for i in range(3):
        name = f'{i:06d}.png'
        assert (tmp_path / 'val' / 'val' /
                name).read_bytes() == (tmp_path / 'ext' / 'val' /
                                       name).read_bytes()
    assert os.listdir(tmp_path / 'ext' / 'train') == []

    def anns(root):
        with open(root / 'annotations' / 'instances_val.json') as f:
            coco = json.load(f)
        return [{
            k: a[k]
            for k in ('image_id', 'category_id', 'segmentation', 'bbox')
        } for a in coco['annotations']]

    val, ext = anns(tmp_path / 'val'), anns(tmp_path / 'ext')
    assert val == [a for a in ext if a['image_id'] <= 3]
    assert len(ext) > len(val)


def test_val_images_scores_runs_once_and_tables_them(tables, tmp_path,
                                                     monkeypatch, capsys):
    import mmb2inst.datasets
    runs = str(tmp_path / 'runs')
    rows = {r.label: r.toy for r in tables.table_rows('3')}
    # own validation: B2Inst-YOLACT +2 points a seed; extended split: +1
    for seed in (0, 1, 2):
        fake_run(runs, rows['YOLACT'], seed, 0.20, 0.1)
        fake_run(runs, rows['B2Inst-YOLACT'], seed, 0.22, 0.1)
    for seed, (y, b) in enumerate([(0.10, 0.11), (0.12, 0.13)]):
        fake_score(tables.work_dir(runs, rows['YOLACT'], seed), 6, y, 0.1)
        fake_score(
            tables.work_dir(runs, rows['B2Inst-YOLACT'], seed), 6, b, 0.1)
    made, calls = [], []
    monkeypatch.setattr(mmb2inst.datasets, 'ensure_toy_dataset',
                        lambda root, settings: made.append((root, settings)))

    def score(config, run_dir, num_images, seed, options, threads):
        assert seed is None
        calls.append((config, osp.basename(run_dir), options[0]))
        fake_score(run_dir, num_images, 0.14, 0.1)
        return True

    monkeypatch.setattr(tables.run_queue, '_evaluate_one', score)
    assert tables.main([
        '3', '--runs-dir', runs, '--out-dir',
        str(tmp_path / 'out'), '--val-images', '6', '--jobs', '1'
    ]) == 0
    # only the two seed-2 runs lacked a score; runs without a validation
    # record (the BlendMask rows) are not scored
    assert sorted(calls) == sorted(
        (rows[label], osp.basename(tables.work_dir(runs, rows[label], 2)),
         'test_dataloader.dataset.data_root=data/toy_boundary_val6/')
        for label in ('YOLACT', 'B2Inst-YOLACT'))
    assert made == [(osp.join(tables.ROOT, 'data/toy_boundary_val6/'),
                     dict(preset='boundary', num_train=0, num_val=6))]
    entries = tables.collect(tables.table_rows('3'), runs, [0, 1, 2], 6)
    b2 = next(e for e in entries if e['row'].label == 'B2Inst-YOLACT')
    # +1, +1, 0 points on the extended split
    assert b2['delta']['coco/segm_mAP'] == pytest.approx(2 / 3)
    text = capsys.readouterr().out
    assert 'extended to 6 images' in text
    assert (tmp_path / 'out' / 'table3_val6.md').is_file()
    assert not (tmp_path / 'out' / 'table3.md').exists()
    # scored runs are not scored again
    calls.clear()
    assert tables.evaluate_missing(
        tables.table_rows('3'), runs, [0, 1, 2], 6, jobs=1)
    assert calls == []


def test_held_out_val_split_of_a_row(tables):
    """--val-seed: the same number of images drawn with another generator
    seed, in a directory and a score of its own; the config's own seed is
    refused (its val images are the ones the project tuned on)."""
    row = tables.table_rows('3')[0]
    data_root, settings = tables.extended_val(row.toy, 2000, 1)
    assert data_root == 'data/toy_boundary_val2000-seed1/'
    assert settings == dict(
        preset='boundary', num_train=0, num_val=2000, seed=1)
    assert tables.split_name(2000, 1) == 'val2000-seed1'
    assert tables.eval_dir('r', 2000, 1) == osp.join('r', 'val2000-seed1')
    assert tables.eval_dir('r', 2000) == osp.join('r', 'val2000')
    with pytest.raises(ValueError, match='--val-seed 0 is the seed'):
        tables.extended_val(row.toy, 2000, 0)


def test_held_out_val_images_are_new_draws(tmp_path):
    """What makes the held-out set held out: none of its images is a val
    (or train) image of the set the configs use."""
    from mmb2inst.datasets import generate_toy_dataset
    common = dict(img_size=64, num_train=0, num_val=4)
    generate_toy_dataset(str(tmp_path / 'val'), seed=0, **common)
    generate_toy_dataset(str(tmp_path / 'held'), seed=1, **common)
    val = {(tmp_path / 'val' / 'val' / f'{i:06d}.png').read_bytes()
           for i in range(4)}
    held = [(tmp_path / 'held' / 'val' / f'{i:06d}.png').read_bytes()
            for i in range(4)]
    assert len(val) == 4 and not val & set(held)


def test_val_seed_scores_and_tables_the_held_out_split(tables, tmp_path,
                                                       monkeypatch, capsys):
    """--val-images N --val-seed S scores into val<N>-seed<S>, tables those
    scores (not the extended split's), and the ledger keeps them apart."""
    import mmb2inst.datasets
    runs = str(tmp_path / 'runs')
    rows = tables.table_rows('3')[:2]  # YOLACT, B2Inst-YOLACT
    yolact, b2inst = rows[0].toy, rows[1].toy
    for seed in (0, 1):
        fake_run(runs, yolact, seed, 0.20, 0.1)
        fake_run(runs, b2inst, seed, 0.22, 0.1)
        # the extended split: +2 points; the held-out one: -1
        fake_score(tables.work_dir(runs, yolact, seed), 6, 0.20, 0.1)
        fake_score(tables.work_dir(runs, b2inst, seed), 6, 0.22, 0.1)
        write_info(tables, runs, yolact, seed)
        write_info(tables, runs, b2inst, seed)
    made, calls = [], []
    monkeypatch.setattr(mmb2inst.datasets, 'ensure_toy_dataset',
                        lambda root, settings: made.append((root, settings)))

    def score(config, run_dir, num_images, seed, options, threads):
        calls.append((osp.basename(run_dir), seed, options[0], threads))
        fake_score(
            run_dir,
            num_images,
            0.19 if config == b2inst else 0.20,
            0.1,
            seed=seed)
        return True

    monkeypatch.setattr(tables.run_queue, '_evaluate_one', score)
    out = tmp_path / 'out'
    assert tables.main([
        '3', '--rows', 'B2Inst-YOLACT', '--seeds', '0', '1', '--runs-dir',
        runs, '--out-dir',
        str(out), '--val-images', '6', '--val-seed', '7', '--jobs', '1',
        '--threads', '3'
    ]) == 0
    assert len(calls) == 4 and {c[1] for c in calls} == {7}
    assert {c[3] for c in calls} == {3}  # --threads reaches the scorers
    assert {
        c[2]
        for c in calls
    } == {'test_dataloader.dataset.data_root=data/toy_boundary_val6-seed7/'}
    assert made == [(osp.join(tables.ROOT, 'data/toy_boundary_val6-seed7/'),
                     dict(preset='boundary', num_train=0, num_val=6, seed=7))]
    text = capsys.readouterr().out
    assert 'held-out images drawn with generator seed 7' in text
    assert '-1.0 [' in text
    assert (out / 'table3_val6-seed7.md').is_file()
    held = tables.collect(rows, runs, [0, 1], 6, val_seed=7)
    ext = tables.collect(rows, runs, [0, 1], 6)
    assert held[1]['delta']['coco/segm_mAP'] == pytest.approx(-1)
    assert ext[1]['delta']['coco/segm_mAP'] == pytest.approx(2)
    # the ledger records both splits under their own names, and a machine
    # without the work_dirs tables each from it
    ledger = str(tmp_path / 'ledger.jsonl')
    assert tables.record_runs(rows, runs, [0, 1], ledger) == 4
    recorded = tables.read_ledger(ledger)
    assert set(recorded[(b2inst,
                         0)]['scores']) == {'val', 'val6', 'val6-seed7'}
    empty = str(tmp_path / 'elsewhere')
    held = tables.collect(rows, empty, [0, 1], 6, recorded, val_seed=7)
    assert held[1]['delta']['coco/segm_mAP'] == pytest.approx(-1)
    # --val-seed alone says what is missing
    with pytest.raises(SystemExit):
        tables.parse_args(['3', '--val-seed', '1'])
    assert '--val-seed needs --val-images' in capsys.readouterr().err


def test_preset_options_switch_every_split_to_the_preset_set(tables):
    """--preset hard: the options turn a row's config into the same model
    on the toy set of configs/_base_/datasets/toy_shapes_hard.py (every
    dataloader and evaluator as that base config has them)."""
    from mmengine.config import Config
    assert tables.preset_options(tables.table_rows('3')[0].toy) == []
    hard = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/datasets/toy_shapes_hard.py'))
    for row in tables.table_rows('3'):  # both hosts, with and without B2Inst
        opts = tables.preset_options(row.toy, 'hard')
        assert 'train_dataloader.dataset.generator.preset=hard' in opts
        cfg = Config.fromfile(osp.join(ROOT, row.toy))
        model = cfg.model.to_dict()
        cfg.merge_from_dict(
            dict(o.split('=', 1) for o in opts), allow_list_keys=True)
        assert cfg.model.to_dict() == model
        for split in ('train', 'val', 'test'):
            got = cfg[f'{split}_dataloader'].dataset
            want = hard[f'{split}_dataloader'].dataset
            assert (got.data_root, got.generator) == (want.data_root,
                                                      want.generator)
            assert got.ann_file == want.ann_file
        for split in ('val', 'test'):
            assert [e.get('ann_file') for e in cfg[f'{split}_evaluator']] == [
                e.get('ann_file') for e in hard[f'{split}_evaluator']
            ]
    data_root, settings = tables.extended_val(row.toy, 2000, 1, 'hard')
    assert data_root == 'data/toy_hard_val2000-seed1/'
    assert settings == dict(preset='hard', num_train=0, num_val=2000, seed=1)


def test_preset_runs_apart_from_the_configs_own(tables, tmp_path, monkeypatch,
                                                capsys):
    """--preset hard trains the same configs with the preset's options into
    <runs-dir>-hard, records its entries with the preset, and neither
    toy set's ledger entries stand in for the other's runs."""
    rows = tables.table_rows('3')[:2]  # YOLACT, B2Inst-YOLACT
    yolact, b2inst = rows[0].toy, rows[1].toy
    monkeypatch.chdir(tmp_path)
    args = tables.parse_args(['3', '--preset', 'hard'])
    assert (args.preset, args.runs_dir) == ('hard', 'work_dirs/ablation-hard')
    args = tables.parse_args(['3', '--preset', 'boundary'])
    assert (args.preset, args.runs_dir) == (None, 'work_dirs/ablation')
    calls = []

    def train(config, seed, options, runs_dir, threads):
        calls.append((config, seed, runs_dir, options))
        fake_run(runs_dir, config, seed, 0.1 if config == yolact else 0.15,
                 0.1)
        write_info(tables, runs_dir, config, seed)
        return True

    monkeypatch.setattr(tables.run_queue, '_train_one', train)
    ledger = str(tmp_path / 'ledger.jsonl')
    assert tables.main([
        '3', '--rows', 'B2Inst-YOLACT', '--seeds', '0', '--preset', 'hard',
        '--train', '--jobs', '1', '--record', '--ledger', ledger, '--out-dir',
        str(tmp_path / 'out')
    ]) == 0
    assert [(c, s, d) for c, s, d, _ in calls
            ] == [(yolact, 0, 'work_dirs/ablation-hard'),
                  (b2inst, 0, 'work_dirs/ablation-hard')]
    assert all(o == tables.preset_options(c, 'hard') for c, *_, o in calls)
    assert "toy preset 'hard'" in capsys.readouterr().out
    assert (tmp_path / 'out' / 'table3_hard.md').is_file()
    entries = [json.loads(line) for line in open(ledger)]
    assert [e['preset'] for e in entries] == ['hard', 'hard']
    # the configs' own set: the hard entries are not its runs
    assert tables.read_ledger(ledger) == {}
    assert set(tables.read_ledger(ledger, 'hard')) == {(yolact, 0),
                                                       (b2inst, 0)}
    calls.clear()
    assert tables.main([
        '3', '--rows', 'B2Inst-YOLACT', '--seeds', '0', '--train', '--jobs',
        '1', '--record', '--ledger', ledger, '--out-dir',
        str(tmp_path / 'out')
    ]) == 0
    assert [(c, s, d, o)
            for c, s, d, o in calls] == [(yolact, 0, 'work_dirs/ablation', []),
                                         (b2inst, 0, 'work_dirs/ablation', [])]
    # both kept, the configs' own entries without a preset
    entries = [json.loads(line) for line in open(ledger)]
    assert sorted(e.get('preset', '')
                  for e in entries) == ['', '', 'hard', 'hard']
    # a later --preset hard table comes from the ledger alone
    calls.clear()
    for run in os.listdir('work_dirs/ablation-hard'):
        os.rename(f'work_dirs/ablation-hard/{run}', f'moved-{run}')
    assert tables.main([
        '3', '--rows', 'B2Inst-YOLACT', '--seeds', '0', '--preset', 'hard',
        '--train', '--ledger', ledger, '--out-dir',
        str(tmp_path / 'out')
    ]) == 0
    assert calls == []
    assert '+5.0' in capsys.readouterr().out


def test_val_images_must_be_positive(tables, capsys):
    with pytest.raises(SystemExit):
        tables.parse_args(['3', '--val-images', '0'])
    assert '--val-images 0' in capsys.readouterr().err


def test_select_rows_keeps_their_baselines(tables):
    rows = tables.table_rows('1')
    picked = tables.select_rows(rows, ['+HBB', '+HBB+BS+MS'])
    assert [r.label for r in picked] == ['BlendMask', '+HBB', '+HBB+BS+MS']
    assert tables.select_rows(rows, None) == rows
    with pytest.raises(
            ValueError, match="no row 'YOLACT'.*BlendMask, "
            r'\+HBB, '):
        tables.select_rows(rows, ['YOLACT'])
    assert tables.main(['1', '--rows', 'YOLACT']) == 2


def test_train_missing_goes_seed_by_seed(tables, tmp_path, monkeypatch):
    """A --train stopped part-way leaves whole seeds (every row beside its
    baseline)."""
    rows = tables.select_rows(tables.table_rows('1'), ['+HBB'])
    calls = []
    monkeypatch.setattr(
        tables.run_queue, '_train_one',
        lambda config, seed, options, runs_dir, threads: calls.append(
            (config, seed)) or True)
    assert tables.train_missing(rows, str(tmp_path), [0, 1], jobs=1)
    assert calls == [(r.toy, s) for s in (0, 1) for r in rows]


def write_info(tables, runs_dir, config, seed, cpu='CPU A'):
    """The run_info.json of a run trained for 600 CPU-seconds."""
    path = osp.join(tables.work_dir(runs_dir, config, seed), tables.RUN_INFO)
    with open(path, 'w') as f:
        json.dump(dict(seconds=700, threads=1, cpu_seconds=600, cpu=cpu), f)


def test_the_ledger_keeps_runs_across_machines(tables, tmp_path, monkeypatch,
                                               capsys):
    """Runs recorded on one machine stand in the tables of the next, whose
    work_dirs are empty, and are not retrained there."""
    runs, ledger = str(tmp_path / 'runs'), str(tmp_path / 'ledger.jsonl')
    rows = tables.table_rows('3')[:2]  # YOLACT, B2Inst-YOLACT
    yolact, b2inst = rows[0].toy, rows[1].toy
    for seed, (y, b) in enumerate([(0.20, 0.22), (0.21, 0.24)]):
        fake_run(runs, yolact, seed, y, 0.1)
        fake_run(runs, b2inst, seed, b, 0.1)
        write_info(tables, runs, yolact, seed)
        write_info(tables, runs, b2inst, seed)
    fake_score(tables.work_dir(runs, b2inst, 0), 6, 0.3, 0.1)
    assert tables.record_runs(rows, runs, [0, 1], ledger) == 4
    # nothing new: nothing written
    assert tables.record_runs(rows, runs, [0, 1], ledger) == 0
    recorded = tables.read_ledger(ledger)
    entry = recorded[(b2inst, 0)]
    assert entry['scores']['val']['coco/segm_mAP'] == 0.22
    assert entry['scores']['val6']['coco/segm_mAP'] == 0.3
    # The next machine: no work_dirs. Same table from the ledger alone.
    empty = str(tmp_path / 'elsewhere')
    entries = tables.collect(rows, empty, [0, 1], ledger=recorded)
    assert entries[1]['paired'] == [0, 1]
    assert entries[1]['delta']['coco/segm_mAP'] == pytest.approx(2.5)
    calls = []
    monkeypatch.setattr(
        tables.run_queue, '_train_one',
        lambda config, seed, options, runs_dir, threads: calls.append(
            (config, seed)) or True)
    assert tables.train_missing(rows, empty, [0, 1, 2], 1, recorded)
    assert calls == [(yolact, 2), (b2inst, 2)]
    # An entry of an earlier version of the config is not used, and the
    # run is trained again.
    lines = open(ledger).read().splitlines()
    stale = [json.loads(line) for line in lines]
    for e in stale:
        e['model'] = '0' * 16
    with open(ledger, 'w') as f:
        f.writelines(json.dumps(e) + '\n' for e in stale)
    recorded = tables.read_ledger(ledger)
    assert tables.collect(
        rows, empty, [0], ledger=recorded)[0]['records'] == {}
    calls.clear()
    assert tables.train_missing(rows, empty, [0], 1, recorded)
    assert calls == [(yolact, 0), (b2inst, 0)]
    # main() reads --ledger and writes the table from it
    fresh = str(tmp_path / 'fresh.jsonl')
    assert tables.record_runs(rows, runs, [0, 1], fresh) == 4
    assert tables.main([
        '3', '--rows', 'B2Inst-YOLACT', '--runs-dir', empty, '--seeds', '0',
        '1', '--ledger', fresh, '--out-dir',
        str(tmp_path / 'out')
    ]) == 0
    assert '+2.5 [' in capsys.readouterr().out
