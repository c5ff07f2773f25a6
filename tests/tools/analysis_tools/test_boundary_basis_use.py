"""tools/analysis_tools/boundary_basis_use.py: the boundary basis's share of
the blend, by hand, at initialisation, and the blend without it."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from toy_runs import ROOT, build_model, load_tool, toy_batch

import mmb2inst  # noqa: F401
from mmb2inst.models.mask_heads.blender import blend

HBB = 'configs/b2inst_blendmask/b2inst-blendmask_hbb_r18_1xb8-12e_toy.py'


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools/boundary_basis_use')


def constant_bases(values, num=2, size=4):
    return torch.tensor(
        values, dtype=torch.float32)[None, :, None,
                                     None].expand(num, -1, size, size).clone()


def test_equal_logits_share_and_contribution_by_hand(tool):
    pooled = constant_bases([2., -1., 0.5])
    use = tool.basis_use(pooled, torch.zeros(2, 3, 2, 2))
    # equal weights 1/3: share 1/3, contribution |0.5| / (2 + 1 + 0.5)
    assert torch.allclose(use['share'], torch.full((2, ), 1 / 3))
    assert torch.allclose(use['contribution'], torch.full((2, ), 1 / 7))


def test_unused_basis_has_no_share(tool):
    pooled = constant_bases([2., -1., 0.5])
    attentions = torch.zeros(2, 3, 2, 2)
    attentions[:, 2] = -40.
    attentions[:, 0] = torch.log(torch.tensor(3.))  # weights 3/4, 1/4
    use = tool.basis_use(pooled, attentions)
    assert use['share'].max() < 1e-12
    assert use['contribution'].max() < 1e-12


def test_recorder_at_initialisation_and_drop(tool):
    cfg = Config.fromfile(osp.join(ROOT, HBB))
    model = build_model(cfg.model, seed=0).eval()
    model.bbox_head.test_cfg.score_thr = 0.  # keep untrained detections
    head = model.mask_head
    recorder = tool.Recorder(head)
    data = toy_batch(model, seed=1)
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
    kept = sum(len(r.pred_instances) for r in results)
    assert kept > 0
    assert len(recorder.records['share']) == kept
    assert len(recorder.records['score']) == kept
    # An untrained attention layer outputs ~0 logits: every basis, the
    # boundary one included, gets ~1 / (K + 1) of every pixel.
    shares = torch.tensor(recorder.records['share'])
    assert head.num_bases == 5
    assert torch.allclose(shares, torch.full_like(shares, 0.2), atol=0.02)
    # Dropping the basis = its attention logit at -inf.
    bases = torch.randn(1, 5, 16, 16)
    rois = torch.tensor([[0., 4., 8., 40., 50.], [0., 0., 0., 63., 63.]])
    params = torch.randn(2, 5 * head.attn_size**2)
    recorder.drop = True
    dropped = recorder.instance_probs(bases, rois, params)
    attentions = head._attentions(params).clone()
    attentions[:, -1] = -1e4
    from mmb2inst.models.mask_heads.blender import pool_bases
    pooled = pool_bases(bases, rois, head.pooler_size, 1. / head.basis_stride)
    assert torch.allclose(
        dropped, blend(pooled, attentions).sigmoid(), atol=1e-6)
    assert not torch.allclose(
        dropped,
        head.__class__.instance_probs(head, bases, rois, params),
        atol=1e-3)
