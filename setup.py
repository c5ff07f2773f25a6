"""Packaging for mmb2inst.

`mim train mmb2inst CONFIG` and `mim test mmb2inst CONFIG` look for
``<installed mmb2inst>/.mim/tools/{train,test}.py`` and search configs by
name under the installed package, so, as MMDetection does, the repository's
``tools/`` and ``configs/`` (with their subfolders) go into ``mmb2inst/.mim``:
copied for a regular install, linked for an editable one (``pip install -e
.``), so that mim runs the checkout's tools.
"""
import os
import os.path as osp
import shutil
import sys
from setuptools import find_packages, setup

ROOT = osp.dirname(osp.abspath(__file__))
INSTALL_REQUIRES = [
    'torch>=2.0',
    'mmcv>=2.0.0rc4,<2.2.0',
    'mmdet>=3.3.0,<3.4',
    'mmengine>=0.10.0,<1.0',
    'numpy>=1.24',
    'opencv-python>=4.8',
    'pycocotools>=2.0.7',
    'faster-coco-eval>=1.8',
    'matplotlib>=3.7',
    'scipy>=1.10',
    'terminaltables>=3.1',
]
# ONNX export and its onnxruntime check (mmb2inst.deploy, tools/deployment/).
EXTRAS_REQUIRE = {'deploy': ['onnx>=1.15', 'onnxruntime>=1.17']}


def read_version():
    namespace = {}
    with open(osp.join(ROOT, 'mmb2inst', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def add_mim_extension():
    """Put tools/, configs/ and model-index.yml into mmb2inst/.mim: relative
    symlinks for an editable install, copies otherwise."""
    editable = any(cmd in sys.argv for cmd in ('develop', 'editable_wheel'))
    mim_root = osp.join(ROOT, 'mmb2inst', '.mim')
    os.makedirs(mim_root, exist_ok=True)
    # `mim search mmb2inst` reads .mim/model-index.yml; the metafiles it
    # imports come with configs/.
    for name in ('tools', 'configs', 'model-index.yml'):
        src, dst = osp.join(ROOT, name), osp.join(mim_root, name)
        if not osp.exists(src):
            continue  # building from an sdist, where .mim already exists
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.lexists(dst):
            shutil.rmtree(dst)
        if editable:
            os.symlink(osp.join('..', '..', name), dst)
        elif osp.isdir(src):
            shutil.copytree(
                src,
                dst,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmb2inst',
        version=read_version(),
        description='B2Inst: boundary basis and boundary-aware mask scoring '
        'for basis-based instance segmentation, on MMDetection 3.x',
        long_description=open(osp.join(ROOT, 'README.md')).read()
        if osp.exists(osp.join(ROOT, 'README.md')) else '',
        long_description_content_type='text/markdown',
        license='Apache-2.0',
        python_requires='>=3.8',
        packages=find_packages(
            exclude=('tests', 'tests.*', 'tools', 'configs')),
        include_package_data=True,
        package_data={
            'mmb2inst': [
                '.mim/**/*.py', '.mim/**/*.sh', '.mim/model-index.yml',
                '.mim/configs/**/*.yml'
            ]
        },
        # Every distribution mmb2inst and its tools import, in the ranges
        # the stack was verified with; requirements.txt and tools/setup.sh
        # pin the CPU stack. Install torch and mmcv (with its ops) first:
        # pip would build mmcv from its sdist without the ops (README,
        # "Install").
        install_requires=INSTALL_REQUIRES,
        extras_require=EXTRAS_REQUIRE,
        zip_safe=False)
