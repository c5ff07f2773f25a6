"""tools/dataset_converters/make_toy_dataset.py: refuses to overwrite, and
replaces only a toy dataset, with --force."""
import json
import os
import os.path as osp
import subprocess
import sys

from toy_runs import ROOT, load_tool

from mmb2inst.datasets.toy_shapes import META_FILE

CLI = osp.join(ROOT, 'tools', 'dataset_converters', 'make_toy_dataset.py')


def test_cli_refuses_to_overwrite(tmp_path):
    out = tmp_path / 'toy'
    out.mkdir()
    (out / 'keep.txt').write_text('x')
    proc = subprocess.run([sys.executable, CLI, str(out)],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert 'already exists' in proc.stderr and '--force' in proc.stderr
    assert (out / 'keep.txt').read_text() == 'x'
    assert not (out / META_FILE).exists()


def test_cli_generates_and_forces(tmp_path, capsys):
    cli = load_tool('dataset_converters/make_toy_dataset')
    out = tmp_path / 'toy'
    args = [
        str(out), '--num-train', '5', '--num-val', '2', '--img-size', '48',
        '--seed', '4'
    ]
    assert cli.main(args) == 0
    text = capsys.readouterr().out
    assert 'train: 5 images' in text and 'val: 2 images' in text
    assert str(out) in text
    assert json.loads((out / META_FILE).read_text())['settings']['seed'] == 4
    # Without --force an existing dataset is kept.
    assert cli.main(args[:1] + ['--seed', '5']) == 1
    assert json.loads((out / META_FILE).read_text())['settings']['seed'] == 4
    assert cli.main(args[:-1] + ['5', '--force']) == 0
    assert json.loads((out / META_FILE).read_text())['settings']['seed'] == 5
    # --force does not delete a directory that is not a toy dataset.
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'keep.txt').write_text('x')
    assert cli.main([str(other), '--force']) == 1
    assert (other / 'keep.txt').exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith('.')]
