"""Finding the metrics MMEngine logged in a work_dir."""
import json
import os

from toy_runs import load_tool

latest_metrics = load_tool('analysis_tools/analyze_logs').latest_metrics


def write(path, records):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.writelines(json.dumps(r) + '\n' for r in records)


def test_latest_metrics_by_mode(tmp_path):
    wd = str(tmp_path)
    train = '20260101_000000'
    test = '20260102_000000'
    write(f'{wd}/{train}/vis_data/{train}.json', [
        dict(loss=1.0, step=10),
        dict(**{'coco/segm_mAP': 0.1}, step=1),
        dict(**{'coco/segm_mAP': 0.2}, step=2)
    ])
    write(f'{wd}/{test}/{test}.json', [{'coco/segm_mAP': 0.3}])
    os.makedirs(f'{wd}/20260103_000000')  # a run that logged nothing yet
    run, rec = latest_metrics(wd, mode='val')
    assert run.endswith(train) and rec['coco/segm_mAP'] == 0.2
    run, rec = latest_metrics(wd, mode='test')
    assert run.endswith(test) and rec['coco/segm_mAP'] == 0.3
    run, rec = latest_metrics(wd)
    assert run.endswith(test)
    assert latest_metrics(str(tmp_path / 'none')) == (None, None)
