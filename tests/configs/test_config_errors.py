"""A config the models cannot be built with fails at build time, with one
line that names the full config key and the values it may take, also
through ``tools/train.py``."""
import argparse
import os
import os.path as osp
import subprocess
import sys
import warnings

import pytest
from mmdet.registry import MODELS
from mmengine.config import Config
from toy_runs import ROOT

from mmb2inst.utils.run_checks import (ConfigError, add_runner_args,
                                       friendly_errors)

YOLACT = 'configs/b2inst_yolact/b2inst-yolact_hbb_r18_1xb8-12e_toy.py'
YOLACT_SCORED = \
    'configs/b2inst_yolact/b2inst-yolact_r18_1xb8-12e_toy.py'
BLENDMASK = 'configs/blendmask/blendmask_r18_1xb8-12e_toy.py'
B2INST_BLENDMASK = \
    'configs/b2inst_blendmask/b2inst-blendmask_hbb_r18_1xb8-12e_toy.py'
BLENDMASK_SCORED = \
    'configs/b2inst_blendmask/b2inst-blendmask_r18_1xb8-12e_toy.py'
NO_SCORE = [
    'model.mask_head.scorer.with_iou=False',
    'model.mask_head.scorer.with_boundary=False'
]

# config, --cfg-options, the whole message as a regex
CASES = [
    pytest.param(
        YOLACT, ['model.mask_head.boundary.supervision=foo'],
        r"^model\.mask_head\.boundary\.supervision='foo' is not one of "
        r"'global', 'local' \(.*\)\.$",
        id='unknown supervision'),
    pytest.param(
        B2INST_BLENDMASK, ['model.mask_head.boundary.fusion=bar'],
        r"^model\.mask_head\.boundary\.fusion='bar' is not one of "
        r"'single', 'multi' \(.*\)\.$",
        id='unknown fusion'),
    pytest.param(
        BLENDMASK, ['model.bbox_head.num_params=196'],
        r'^model\.bbox_head\.num_params is not an option .*; set '
        r'model\.bbox_head\.num_bases and model\.bbox_head\.attn_size, ',
        id='BlendMask num_params'),
    pytest.param(
        YOLACT_SCORED,
        NO_SCORE, r'^model\.mask_head\.scorer\.with_iou=False and '
        r'model\.mask_head\.scorer\.with_boundary=False: nothing to regress'
        r'; set at least one of them to True \(.*\), or drop '
        r'model\.mask_head\.scorer\.$',
        id='YOLACT scorer with nothing to score'),
    pytest.param(
        BLENDMASK_SCORED,
        NO_SCORE, r'^model\.mask_head\.scorer\.with_iou=False and '
        r'model\.mask_head\.scorer\.with_boundary=False: nothing to regress',
        id='BlendMask scorer with nothing to score'),
    pytest.param(
        BLENDMASK_SCORED,
        ['model.mask_head.scorer.roi_extractor.out_channels=256'],
        r'^model\.mask_head\.scorer\.roi_extractor\.out_channels=256 but '
        r'model\.mask_head\.scorer\.in_channels=128; set both to the FPN '
        r'channels\.$',
        id='scorer channels != FPN channels'),
    pytest.param(
        YOLACT_SCORED, ['model.mask_head.scorer.num_convs=0'],
        r'^model\.mask_head\.scorer\.num_convs=0; it must be >= 1 \(.*\)\.$',
        id='scorer without convs'),
]


def config(path, options):
    """The config as ``tools/train.py CONFIG --cfg-options OPTIONS`` sees
    it."""
    parser = argparse.ArgumentParser()
    add_runner_args(parser)
    args = parser.parse_args(['--cfg-options', *options])
    cfg = Config.fromfile(osp.join(ROOT, path))
    cfg.merge_from_dict(args.cfg_options)
    return cfg


@pytest.mark.parametrize('path,options,message', CASES)
def test_build_fails_naming_the_key_and_allowed_values(path, options, message):
    cfg = config(path, options)
    with pytest.raises(ConfigError, match=message) as info:
        MODELS.build(cfg.model)
    # a ValueError for Python callers, one line for the tools
    assert isinstance(info.value, ValueError)
    assert '\n' not in str(info.value)


def test_the_suggested_fixes_build():
    """The configs above fail because of the options, and do what the
    messages say builds."""
    fixes = [
        (YOLACT, ['model.mask_head.boundary.use_as_basis=False']),
        (B2INST_BLENDMASK, ['model.mask_head.attn_size=14']),
        (BLENDMASK_SCORED, ['model.mask_head.scorer.with_iou=False']),
    ]
    for path, options in fixes:
        MODELS.build(config(path, options).model)


def test_friendly_errors_print_one_line(capsys):
    cfg = config(B2INST_BLENDMASK, ['model.mask_head.boundary.fusion=bar'])
    # Unrelated library warnings (e.g. setuptools' pkg_resources deprecation
    # on a first lazy import) would also land on stderr.
    with pytest.raises(SystemExit) as info, warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with friendly_errors(cfg):
            MODELS.build(cfg.model)
    assert info.value.code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "mmb2inst: Config error: model.mask_head.boundary.fusion='bar' is "
        "not one of 'single', 'multi' (Table 2: 'multi' is designs (b) and "
        "(c), 'single' the others)."
    ]


@pytest.mark.slow
def test_train_tool_reports_the_config_error(tmp_path):
    """What a user of ``mim train`` / ``tools/train.py`` sees: the model is
    built by MMEngine's Runner, before any data is read."""
    cmd = [
        sys.executable, 'tools/train.py', YOLACT, '--cfg-options',
        'model.mask_head.boundary.supervision=foo', '--work-dir',
        str(tmp_path)
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (
        "mmb2inst: Config error: model.mask_head.boundary.supervision='foo' "
        "is not one of 'global', 'local' (Table 2: 'local' is design "
        "(a), 'global' designs (b)-(e)).")
    assert not list(tmp_path.glob('**/*.pth'))
