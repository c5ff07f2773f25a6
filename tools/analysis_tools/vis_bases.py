"""Write pictures of the learned bases and the holistic boundary basis of a
YOLACT, BlendMask or B2Inst checkpoint (the paper's Fig. 8).

    python tools/analysis_tools/vis_bases.py CONFIG CHECKPOINT
        [--img a.png b.png] [--num 4] [--out-dir DIR]

Without --img, the first --num images of the config's test set are used.
Each picture shows the image, the predicted masks, the boundary basis (B2Inst
models) and every basis.
"""
import argparse
import os
import os.path as osp
import sys
import warnings

if not sys.warnoptions:  # unless -W or PYTHONWARNINGS say otherwise
    # Notices of the third-party stack that a user cannot act on, each
    # matched by its message: setuptools' deprecation of pkg_resources
    # (imported by mmengine and mmcv), torch's about mmdet's point generator
    # calling meshgrid without ``indexing``, and mmengine's visualizer when
    # a predicted box or mask reaches past the image (it is drawn clipped).
    warnings.filterwarnings(
        'ignore', message='pkg_resources is deprecated', category=UserWarning)
    warnings.filterwarnings(
        'ignore', message='torch.meshgrid', category=UserWarning)
    warnings.filterwarnings(
        'ignore',
        message=r'Warning: The \w+ is out of bounds',
        category=UserWarning,
        module='mmengine.visualization.visualizer')

import mmcv
from mmdet.apis import inference_detector
from mmdet.registry import VISUALIZERS
from mmengine.config import Config, DictAction

import mmb2inst  # noqa: F401
from mmb2inst.utils.checkpoint import load_detector
from mmb2inst.utils.run_checks import (UserInputError, friendly_errors,
                                       load_config)
from mmb2inst.visualization import bases_figure, capture_bases


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--img', nargs='+', help='image files')
    parser.add_argument(
        '--num', type=int, default=4, help='test images when no --img')
    parser.add_argument(
        '--out-dir',
        help='where to write the PNGs (default: <work_dir>/bases)')
    parser.add_argument(
        '--score-thr', type=float, default=0.3, help='masks drawn above')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    return parser.parse_args()


def test_images(cfg: Config, num: int):
    from mmdet.registry import DATASETS
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    return [
        dataset.get_data_info(i)['img_path']
        for i in range(min(num, len(dataset)))
    ]


def main():
    args = parse_args()
    with friendly_errors():
        for path in (args.config, args.checkpoint, *(args.img or [])):
            if not osp.isfile(path):
                raise UserInputError(f'{path} does not exist.')
        cfg = load_config(args.config, args.cfg_options)
        # mmdet's init_detector replaces the warning filters with 'once';
        # catch_warnings puts this tool's back afterwards
        with warnings.catch_warnings():
            model = load_detector(
                cfg, args.checkpoint, args.config, images_only=True)
        head = getattr(model, 'mask_head', None)
        if not (hasattr(head, 'forward_bases') or hasattr(head, 'protonet')):
            raise UserInputError(
                f'{args.config} is not a basis-based model (its mask head '
                'has no bases); this tool draws the bases of YOLACT, '
                'BlendMask and their B2Inst variants.')
        images = args.img or test_images(cfg, args.num)
        out_dir = args.out_dir or osp.join(
            'work_dirs',
            osp.splitext(osp.basename(args.config))[0], 'bases')
        os.makedirs(out_dir, exist_ok=True)
        visualizer = VISUALIZERS.build(
            dict(type='B2InstLocalVisualizer', name='vis_bases'))
        visualizer.dataset_meta = model.dataset_meta
        for path in images:
            with capture_bases(model) as store:
                sample = inference_detector(model, path)
            image = mmcv.imread(path, channel_order='rgb')
            sample.pop('pred_boundary', None)  # drawn as its own panel
            visualizer.add_datasample(
                'pred',
                image,
                sample,
                draw_gt=False,
                pred_score_thr=args.score_thr,
                out_file=None)
            prediction = visualizer.get_image()
            boundary = store['boundary']
            figure = bases_figure(image, prediction, store['bases'][0],
                                  None if boundary is None else boundary[0],
                                  sample.metainfo)
            out = osp.join(out_dir,
                           osp.splitext(osp.basename(path))[0] + '.png')
            mmcv.imwrite(figure[..., ::-1], out)
            print(out)
        print(f'bases of {len(images)} images written to {out_dir}')


if __name__ == '__main__':
    main()
