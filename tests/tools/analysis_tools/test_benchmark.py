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
