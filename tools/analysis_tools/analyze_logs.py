"""Print what a train + test run left in its work_dir: the test metrics,
where the predictions and the pictures are.

Usage: python tools/analysis_tools/analyze_logs.py work_dirs/<config name>
"""
import argparse
import glob
import os.path as osp

from ablation.run_logs import latest_metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dir')
    args = parser.parse_args()
    run, metrics = latest_metrics(args.work_dir, mode='test')
    if run is None:
        raise SystemExit(f'No test results under {args.work_dir}: run '
                         '`mim test mmb2inst CONFIG --checkpoint CKPT` first.')
    print(f'\nTest results ({run}):')
    for key in sorted(metrics):
        if key.endswith(('mAP', 'mAP_50', 'mAP_75')):
            print(f'  {key:<24} {metrics[key]:.3f}')
    preds = osp.join(args.work_dir, 'predictions.pkl')
    if osp.isfile(preds):
        print(f'Predictions: {preds}')
    vis = osp.join(run, 'vis')
    if osp.isdir(vis):
        n = len(glob.glob(osp.join(vis, '**', '*.png'), recursive=True))
        print(f'Pictures of the predictions ({n} images): {vis}')
    bases = sorted(glob.glob(osp.join(args.work_dir, 'bases', '*.png')))
    if bases:
        print(f'Bases and boundary basis ({len(bases)} images): '
              f'{osp.dirname(bases[0])}, e.g. {bases[0]}')
    print(f'Checkpoints and training logs: {args.work_dir}')


if __name__ == '__main__':
    main()
