"""PerComponentSeed: ablation rows start from their baseline's weights
wherever they do not change the model."""
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import set_random_seed
from toy_runs import ROOT

from mmb2inst.models import component_seed

BLENDMASK = 'configs/blendmask/blendmask_r18_1xb8-12e_toy.py'
B2INST_BLENDMASK = \
    'configs/b2inst_blendmask/b2inst-blendmask_r18_1xb8-12e_toy.py'
YOLACT = 'configs/yolact/yolact_r18_1xb8-12e_toy.py'
# Each B2Inst row, and the shared tensors that may start differently: the
# one whose shape the row changes (one more attention / coefficient channel
# for the boundary basis) and the detection head's layers that its
# init_cfg initialises after that one.
ROWS = [
    (BLENDMASK, B2INST_BLENDMASK,
     {'bbox_head.controller', 'bbox_head.conv_cls'}),
    (BLENDMASK,
     'configs/b2inst_blendmask/b2inst-blendmask_design-b_r18_1xb8-12e_toy.py',
     set()),
    (YOLACT, 'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py',
     {'bbox_head.conv_coeff', 'bbox_head.head_convs.0.conv'}),
]


def initialised(config: str, seed: int = 0, **model_changes) -> dict:
    cfg = Config.fromfile(f'{ROOT}/{config}')
    cfg.merge_from_dict({f'model.{k}': v for k, v in model_changes.items()})
    set_random_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return dict(model.named_parameters())


def differing(a: dict, b: dict) -> set:
    """Owners (module names) of the shared tensors that differ."""
    return {
        k.rsplit('.', 1)[0]
        for k in a.keys() & b.keys()
        if a[k].shape != b[k].shape or not torch.equal(a[k], b[k])
    }


@pytest.mark.slow
@pytest.mark.parametrize('base, row, allowed', ROWS)
def test_rows_share_their_baselines_initialisation(base, row, allowed):
    a, b = initialised(base), initialised(row)
    assert len(a.keys() & b.keys()) == len(a)  # the row adds, never drops
    assert differing(a, b) == allowed


def test_without_it_the_whole_model_starts_differently():
    """The control: one random stream for the whole model shifts every
    tensor drawn after the first one the row adds, the backbone's too."""
    std = dict(init_cfg=None)
    a = initialised(BLENDMASK, **std)
    b = initialised(B2INST_BLENDMASK, **std)
    owners = differing(a, b)
    assert 'backbone.conv1' in owners and len(owners) > 40


def test_seeds_still_differ_and_the_global_stream_is_untouched():
    a, b = initialised(YOLACT, seed=0), initialised(YOLACT, seed=1)
    assert 'backbone.conv1' in differing(a, b)
    cfg = Config.fromfile(f'{ROOT}/{YOLACT}')
    set_random_seed(3)
    model = MODELS.build(cfg.model)
    before = torch.get_rng_state()
    model.init_weights()
    assert torch.equal(torch.get_rng_state(), before)
    # the backbone's stream is the one its name and the run's seed give
    torch.manual_seed(component_seed(3, 'backbone'))
    model.backbone._is_init = False
    model.backbone.init_weights()
    assert torch.equal(model.backbone.conv1.weight,
                       initialised(YOLACT, seed=3)['backbone.conv1.weight'])


def test_component_seed_is_stable():
    # crc32 of '0/backbone': the same on every machine and process (a
    # salted hash() would not be)
    assert component_seed(0, 'backbone') == 498998376
    assert component_seed(1, 'backbone') != component_seed(0, 'backbone')
