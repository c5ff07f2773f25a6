"""model-index.yml (what `mim search mmb2inst` reads) and the metafiles it
imports: every entry names a config that exists and loads, every COCO and
toy config is listed, and the model names are unique."""
import glob
import os.path as osp

import pytest
import yaml

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _metafiles():
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        return yaml.safe_load(f)['Import']


def _read(metafile):
    with open(osp.join(ROOT, metafile)) as f:
        return yaml.safe_load(f)


def _models():
    return [(metafile, model) for metafile in _metafiles()
            for model in _read(metafile)['Models']]


MODELS = _models()


def test_every_config_folder_has_an_imported_metafile_and_readme():
    folders = sorted(
        osp.relpath(osp.dirname(p), ROOT)
        for p in glob.glob(osp.join(ROOT, 'configs', '*', '*.py'))
        if '_base_' not in p)
    for folder in set(folders):
        assert f'{folder}/metafile.yml' in _metafiles(), folder
        assert osp.isfile(osp.join(ROOT, folder, 'README.md')), folder


def test_collections_and_readmes():
    for metafile in _metafiles():
        data = _read(metafile)
        names = {c['Name'] for c in data['Collections']}
        for collection in data['Collections']:
            assert osp.isfile(osp.join(ROOT, collection['README']))
        for model in data['Models']:
            assert model['In Collection'] in names, model['Name']


def test_model_names_are_unique():
    names = [model['Name'] for _, model in MODELS]
    assert len(names) == len(set(names))


def test_every_coco_and_toy_config_is_listed():
    listed = {model['Config'] for _, model in MODELS}
    configs = {
        osp.relpath(p, ROOT)
        for pattern in ('*_coco.py', '*_toy.py')
        for p in glob.glob(osp.join(ROOT, 'configs', '*', pattern))
        if '_base_' not in p
    }
    assert configs - listed == set()


@pytest.mark.parametrize(
    'metafile,model', MODELS, ids=[model['Name'] for _, model in MODELS])
def test_entry_config_exists(metafile, model):
    # (that every config loads is test_configs.py::test_config_loads)
    path = osp.join(ROOT, model['Config'])
    assert osp.isfile(path), f'{metafile}: {model["Config"]}'
    assert model['Name'] == osp.basename(path)[:-3]
    assert osp.dirname(model['Config']) == osp.dirname(metafile)
    for result in model.get('Results', []):
        assert result['Task'] in ('Object Detection', 'Instance Segmentation')
        assert all(0 < v < 100 for v in result['Metrics'].values())


def test_mim_reads_the_index():
    """The model-index library (what mim parses it with) sees every
    model."""
    modelindex = pytest.importorskip('modelindex')
    index = modelindex.load(osp.join(ROOT, 'model-index.yml'))
    names = sorted(model['Name'] for _, model in MODELS)
    assert sorted(m.name for m in index.models) == names
