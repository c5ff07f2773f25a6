"""Smoke runs of COCO configs, one after another in this process.

``python tests/coco_smoke.py SPEC`` reads a JSON file ``{"data_root": ...,
"out": ..., "threads": 1, "runs": [{"config": ..., "seed": ..., "scale":
...}, ...]}``, runs each with :func:`coco_runs.smoke_run` in
``out/<run id>/`` and writes ``out/<run id>/result.json``. The COCO smoke
tests start two of these (one thread each) instead of a process per run:
importing torch and mmdet and building the registries once per process.
"""
import json
import os
import os.path as osp
import sys


def main(spec_path: str) -> None:
    with open(spec_path) as f:
        spec = json.load(f)
    threads = str(spec.get('threads', 1))
    os.environ.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    import torch
    torch.set_num_threads(int(threads))
    from coco_runs import run_id, smoke_run
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    for run in spec['runs']:
        work_dir = osp.join(spec['out'], run_id(run['config'], run['seed']))
        os.makedirs(work_dir, exist_ok=True)
        result = smoke_run(run['config'], spec['data_root'], work_dir,
                           run['scale'], run['seed'])
        with open(osp.join(work_dir, 'result.json'), 'w') as f:
            json.dump(result, f)
        print(
            f"{run_id(run['config'], run['seed'])}: "
            f"{'failed' if result['error'] else 'ok'} in "
            f"{result['seconds']:.0f} s",
            flush=True)


if __name__ == '__main__':
    main(sys.argv[1])
