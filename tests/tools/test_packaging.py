"""setup.py and requirements.txt name every distribution that mmb2inst and
its tools import (a GPU user's `pip install .` must give a package that
imports and trains)."""
import ast
import glob
import importlib.metadata as md
import os.path as osp
import re
import sys

from toy_runs import ROOT


def _imported_top_levels(patterns):
    # The tools import the modules beside them (analysis_tools/ablation/,
    # benchmarking/): in a tool those are local modules, not
    # distributions; in the package they would be a missing dependency.
    tools_dir = osp.join(ROOT, 'tools')
    scripts = {
        osp.splitext(osp.basename(p))[0]
        for p in glob.glob(osp.join(tools_dir, '**', '*.py'), recursive=True)
    } | {
        osp.basename(osp.dirname(p))
        for p in glob.glob(
            osp.join(tools_dir, '**', '__init__.py'), recursive=True)
    }
    local = {'mmb2inst', 'toy_runs', 'coco_runs'}
    names = set()
    for pattern in patterns:
        for path in glob.glob(osp.join(ROOT, pattern), recursive=True):
            if '.mim' in path:
                continue
            with open(path) as f:
                tree = ast.parse(f.read())
            found = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found.update(a.name.split('.')[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    found.add(node.module.split('.')[0])
            if path.startswith(tools_dir + osp.sep):
                found -= scripts
            names |= found
    return {n for n in names - local if n not in sys.stdlib_module_names}


def _dist_names(requirements):
    return {
        re.split(r'[<>=!~ ;\[]', r.strip(),
                 maxsplit=1)[0].lower().replace('_', '-')
        for r in requirements if r.strip() and not r.startswith('#')
    }


def _setup_value(name):
    with open(osp.join(ROOT, 'setup.py')) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                getattr(t, 'id', None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f'{name} not found in setup.py')


def _install_requires():
    return _setup_value('INSTALL_REQUIRES')


# Imported only by mmb2inst.deploy and tools/deployment/: the `deploy`
# extra.
DEPLOY_ONLY = {'onnx', 'onnxruntime'}


def _needed_dists():
    top_levels = _imported_top_levels(['mmb2inst/**/*.py', 'tools/**/*.py'])
    mapping = md.packages_distributions()
    needed = {}
    for name in top_levels:
        assert name in mapping, f'{name} is imported but not installed'
        needed[name] = {d.lower().replace('_', '-') for d in mapping[name]}
    return needed


def test_install_requires_names_every_import():
    declared = _dist_names(_install_requires())
    extras = _dist_names(_setup_value('EXTRAS_REQUIRE')['deploy'])
    assert extras == DEPLOY_ONLY
    for module, dists in _needed_dists().items():
        where = extras if module in DEPLOY_ONLY else declared
        assert dists & where, (f'{module} (from {sorted(dists)}) is '
                               'missing from setup.py install_requires')


def test_requirements_txt_names_every_import():
    with open(osp.join(ROOT, 'requirements.txt')) as f:
        declared = _dist_names(f.read().splitlines())
    for module, dists in _needed_dists().items():
        assert dists & declared, (f'{module} (from {sorted(dists)}) is '
                                  'missing from requirements.txt')
    # The runtime part of requirements.txt is the pinned form of
    # install_requires.
    assert _dist_names(_install_requires()) <= declared
