"""tools/analysis_tools/benchmark.py profile: the table by hand, and a
profiled step of the toy BlendMask."""
import os.path as osp

import pytest
from toy_runs import ROOT, load_tool

BLENDMASK = 'configs/blendmask/blendmask_r18_1xb8-12e_toy.py'


@pytest.fixture(scope='module')
def bench():
    """The profile subcommand's module (benchmarking/profiling.py)."""
    load_tool('analysis_tools/benchmark')
    from benchmarking import profiling
    return profiling


def test_profile_table_by_hand(bench):
    results = [
        dict(
            config='a/host.py', step=0.5, ops=dict(conv=0.3, roi=0.1, bn=0.1)),
        dict(config='b/b2inst.py', step=0.8, ops=dict(conv=0.4, roi=0.6)),
    ]
    lines = bench.profile_table(results, top=1).splitlines()
    assert lines[0] == '| operator | host | b2inst |'
    # the top operator of each config (host: conv, b2inst: roi), each
    # shown for both; bn is in neither's top 1
    assert lines[2] == '| `conv` | 300 ms (60%) | 400 ms (40%) |'
    assert lines[3] == '| `roi` | 100 ms (20%) | 600 ms (60%) |'
    assert lines[4] == '| step (wall, profiled) | 500 ms | 800 ms |'
    assert len(lines) == 5


@pytest.mark.slow
def test_profiled_training_step(bench, tmp_path):
    from mmb2inst.datasets import ensure_toy_dataset
    generator = dict(bench.MEMORY_GENERATOR, num_train=4)
    root = str(tmp_path / 'toy')
    ensure_toy_dataset(root, generator)
    result = bench.profile_steps(
        osp.join(ROOT, BLENDMASK), root, generator, iters=1, batch_size=2)
    ops = result['ops']
    # the blender's RoIAlign of the bases, forward and backward
    assert ops['RoIAlignFunction'] > 0
    assert ops['RoIAlignFunctionBackward'] > 0
    assert ops['aten::convolution_backward'] > 0
    assert result['step'] > 0


B2INST_YOLACT = 'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py'


@pytest.fixture(scope='module')
def stages_module():
    """``benchmark.py speed --breakdown``'s module
    (benchmarking/scorer_stages.py)."""
    load_tool('analysis_tools/benchmark')
    from benchmarking import scorer_stages
    return scorer_stages


def test_scorer_stages_by_hand(stages_module):
    totals = dict(roi=0.2, head=0.1, predict=0.5, host_masks=0.05, eq2=0.01)
    out = stages_module.stages(totals, images=2)
    assert out['RoI features'] == pytest.approx(0.1)
    assert out['head'] == pytest.approx(0.05)
    assert out['Eq. 2'] == pytest.approx(0.005)
    # the scorer call minus its RoI features and head, plus the host side
    assert out['mask inputs'] == pytest.approx((0.5 - 0.2 - 0.1 + 0.05) / 2)
    assert out['total'] == pytest.approx(0.28)


@pytest.mark.slow
def test_scorer_stage_timers_leave_the_model_as_it_was(stages_module):
    import torch
    from benchmarking.timing import build
    from mmdet.testing import demo_mm_inputs

    from mmb2inst.models.mask_heads import b2inst_yolact_protonet
    torch.manual_seed(0)
    model = build(osp.join(ROOT, B2INST_YOLACT))
    data = model.data_preprocessor(
        demo_mm_inputs(1, [[3, 128, 128]], num_classes=5), False)

    def predict():
        with torch.no_grad():
            return model.predict(data['inputs'],
                                 data['data_samples'])[0].pred_instances

    before = predict()
    original = b2inst_yolact_protonet.masks_in_boxes
    totals = {}
    with stages_module.stage_timers(model, totals):
        timed = predict()
    after = predict()
    assert len(before) > 0
    for out in (timed, after):
        for key in ('scores', 'mask_scores', 'iou_scores', 'boundary_scores'):
            assert torch.equal(out[key], before[key])
    assert set(totals) == {'roi', 'head', 'predict', 'host_masks', 'eq2'}
    assert all(v > 0 for v in totals.values())
    assert totals['roi'] + totals['head'] < totals['predict']
    # restored: nothing of the timers left on the model or the module
    scorer = model.mask_head.scorer
    assert 'predict' not in scorer.__dict__
    assert 'head' not in scorer.__dict__
    assert 'roi_features' not in scorer.__dict__
    assert b2inst_yolact_protonet.masks_in_boxes is original


@pytest.mark.slow
def test_speed_breakdown_and_training_steps_on_the_toy_preset(tmp_path):
    import sys

    from toy_runs import run
    result = run([
        sys.executable, 'tools/analysis_tools/benchmark.py', 'speed',
        '--preset', 'toy', '--host', 'yolact', '--reps', '1', '--warmup', '0',
        '--train-reps', '1', '--threads', '1', '--breakdown'
    ])
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert '| B2Inst-YOLACT | ' in out
    assert '| scorer stage, per image (% of the host) | B2Inst-YOLACT |' in out
    for stage in ('RoI features', 'mask inputs', 'head', 'Eq. 2', 'total'):
        assert f'| {stage} | ' in out
    assert '| model | train step (batch 2), s | ratio |' in out
