"""mmb2inst's BlendMask with converted weights computes AdelaiDet's
BlendMask R_50_1x, stage by stage, without AdelaiDet or Detectron2.

``tests/data/adelaidet_blendmask_r50_parity.npz`` holds what AdelaiDet's
own model computed (``tools/model_converters/adelaidet_parity.py
--record``, from the fetched AdelaiDet and Detectron2 sources) with seeded
random weights on seeded images: P3-P7, the FCOS class / box / centerness
maps, the attention maps, the bases (each as a fixed sample of its values
and its sums) and the detections in full (boxes, scores, labels, the
attentions and 56 x 56 probabilities of each, the pasted masks). Here the
same weights are regenerated from the seed, converted by
``adelaidet_blendmask.py`` and run through
``configs/blendmask/blendmask_m14_r50_1x_coco.py``.
"""
import importlib.util
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from toy_runs import ROOT

RECORD = osp.join(ROOT, 'tests', 'data', 'adelaidet_blendmask_r50_parity.npz')
TOLERANCE = 1e-4


def load_tool(name):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, osp.join(ROOT, 'tools', 'model_converters', f'{name}.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


parity = load_tool('adelaidet_parity')


@pytest.fixture(scope='module')
def compared():
    rec = np.load(RECORD)
    seed, depth = int(rec['seed']), int(rec['depth'])
    sizes = [tuple(int(v) for v in s) for s in rec['sizes']]
    torch.set_num_threads(2)
    model = parity.build_mmb2inst(
        parity.random_adelaidet_state(seed, depth=depth))
    images = parity.make_images(seed, [s[:2] for s in sizes])
    outs = parity.run_mmb2inst(model, images, [s[2:] for s in sizes])
    return rec, outs, parity.compare_with_record(rec, outs)


def test_record_covers_padding_rescaling_and_detections(compared):
    rec, outs, _ = compared
    sizes = rec['sizes']
    assert int(rec['depth']) == 50
    assert any(h % 32 or w % 32 for h, w, _, _ in sizes)  # padded
    assert any((h, w) != (oh, ow) for h, w, oh, ow in sizes)  # rescaled
    counts = [len(rec[f'{i}/det_scores']) for i in range(len(sizes))]
    assert all(0 < n < 100 for n in counts)


@pytest.mark.parametrize('stage', [
    'p3', 'p4', 'p5', 'p6', 'p7', 'cls_p3', 'cls_p7', 'reg_p3', 'reg_p7',
    'ctr_p3', 'ctr_p7', 'attn_p3', 'attn_p7', 'bases'
])
def test_stage_equals_adelaidet(compared, stage):
    _, _, report = compared
    for diffs in report:
        assert diffs[stage] <= TOLERANCE, (stage, diffs[stage])


def test_every_recorded_tensor_within_tolerance(compared):
    _, _, report = compared
    for diffs in report:
        for key, diff in diffs.items():
            assert not isinstance(diff, str), (key, diff)
            if key != 'det_masks':
                assert diff <= TOLERANCE, (key, diff)


def test_same_detections(compared):
    rec, outs, report = compared
    for i, (out, diffs) in enumerate(zip(outs, report)):
        assert torch.equal(out['det_labels'],
                           torch.from_numpy(rec[f'{i}/det_labels']))
        assert diffs['det_boxes'] <= TOLERANCE
        assert diffs['det_scores'] <= TOLERANCE
        assert diffs['det_masks'] == 0  # mask pixels that differ
        # the attention of each detection and its blended 56 x 56 mask
        assert diffs['det_attn'] <= TOLERANCE
        assert diffs['det_probs'] <= TOLERANCE
