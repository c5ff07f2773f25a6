"""Side-by-side pictures of a baseline and its B2Inst model (the paper's
Fig. 4/5): image with the GT masks | baseline masks | B2Inst masks | B2Inst's
predicted holistic boundary basis.

    python tools/analysis_tools/compare_models.py BASE_CONFIG BASE_CKPT
        B2INST_CONFIG B2INST_CKPT [--num 8] [--img a.png ...] [--out-dir DIR]
        [--score-thr 0.3]

Without --img, the first --num images of the baseline config's test set are
used, with their ground truth; given images have no GT panel, only the
image. The boundary panel is left out when the second model puts no
``pred_boundary`` into its results. Small images are enlarged by an integer
factor (nearest neighbour, so every mask pixel stays visible) to about
--panel-size pixels. One PNG per image goes to --out-dir (default
work_dirs/compare/<base>_vs_<b2inst>/).
"""
import argparse
import os
import os.path as osp

import cv2
import mmcv
import numpy as np
import torch
from mmdet.apis import inference_detector
from mmdet.registry import DATASETS, VISUALIZERS
from mmdet.structures import DetDataSample
from mmengine.config import DictAction
from mmengine.structures import InstanceData

import mmb2inst  # noqa: F401
from mmb2inst.utils.checkpoint import load_detector
from mmb2inst.utils.run_checks import (UserInputError, friendly_errors,
                                       load_config)
from mmb2inst.visualization import boundary_on_image

TITLE_HEIGHT = 28
GAP = 4  # white pixels between panels


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('base_config')
    parser.add_argument('base_checkpoint')
    parser.add_argument('b2inst_config')
    parser.add_argument('b2inst_checkpoint')
    parser.add_argument(
        '--num', type=int, default=8, help='test images when no --img')
    parser.add_argument('--img', nargs='+', help='image files (no GT)')
    parser.add_argument('--out-dir', help='where to write the PNGs')
    parser.add_argument(
        '--score-thr', type=float, default=0.3, help='masks drawn above')
    parser.add_argument(
        '--names',
        nargs=2,
        metavar=('BASE', 'B2INST'),
        help='panel titles of the two models (default: config names)')
    parser.add_argument(
        '--panel-size',
        type=int,
        default=384,
        help='enlarge small images to about this many pixels')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of both configs, key=value')
    return parser.parse_args(argv)


def load_model(config: str, checkpoint: str, cfg_options=None):
    """A detector on the CPU with the checkpoint's weights (checked to fit)
    and its dataset meta."""
    cfg = load_config(config, cfg_options)
    return load_detector(cfg, checkpoint, config, images_only=True)


def gt_samples(config: str, num: int, cfg_options=None):
    """``(img_path, gt_instances)`` of the first ``num`` test images, the GT
    masks at the size of the image file."""
    cfg = load_config(config, cfg_options)
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='PackDetInputs', meta_keys=('img_id', 'img_path'))
    ]
    dataset = DATASETS.build(dataset_cfg)
    for i in range(min(num, len(dataset))):
        sample = dataset[i]['data_samples']
        yield sample.img_path, sample.gt_instances


def enlarge(instances: InstanceData,
            factor: int,
            score_thr: float = None) -> InstanceData:
    """Masks and labels (and scores, above ``score_thr``) of ``instances``,
    the masks repeated ``factor`` times along both axes; empty masks are
    dropped. No boxes: the visualizer then labels each mask at its centre.
    """
    masks = instances.masks
    if hasattr(masks, 'to_ndarray'):  # BitmapMasks / PolygonMasks
        masks = masks.to_ndarray()
    elif isinstance(masks, torch.Tensor):
        masks = masks.cpu().numpy()
    masks = np.asarray(masks).astype(bool)
    keep = masks.reshape(len(masks), -1).any(1)
    if score_thr is not None:
        keep &= instances.scores.cpu().numpy() >= score_thr
    keep = np.flatnonzero(keep)
    out = InstanceData(
        masks=masks[keep].repeat(factor, 1).repeat(factor, 2),
        labels=instances.labels[torch.from_numpy(keep)])
    if 'scores' in instances:
        out.scores = instances.scores[torch.from_numpy(keep)]
    return out


def draw_masks(visualizer, image: np.ndarray, instances: InstanceData,
               gt: bool) -> np.ndarray:
    """``image`` with the masks drawn by the (mmdet) visualizer."""
    if len(instances) == 0:
        return image.copy()
    # the visualizer jitters mask colours at random: same jitter per panel
    np.random.seed(0)
    sample = DetDataSample()
    if gt:
        sample.gt_instances = instances
    else:
        sample.pred_instances = instances
    visualizer.add_datasample(
        'compare',
        image,
        sample,
        draw_gt=gt,
        draw_pred=not gt,
        pred_score_thr=0,
        out_file=None)
    return visualizer.get_image()


def title_bar(text: str, width: int) -> np.ndarray:
    """``(TITLE_HEIGHT, width, 3)`` white strip with ``text``, shrunk until
    it fits."""
    bar = np.full((TITLE_HEIGHT, width, 3), 255, dtype=np.uint8)
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.6
    while True:
        (w, h), _ = cv2.getTextSize(text, font, scale, 1)
        if w <= width - 6 or scale <= 0.3:
            break
        scale -= 0.05
    cv2.putText(bar, text, (max(3, (width - w) // 2), (TITLE_HEIGHT + h) // 2),
                font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def titled_row(panels, titles) -> np.ndarray:
    """Panels of one height side by side, each under its title, ``GAP``
    white pixels apart."""
    columns = []
    for i, (panel, title) in enumerate(zip(panels, titles)):
        if i:
            columns.append(
                np.full((TITLE_HEIGHT + panel.shape[0], GAP, 3),
                        255,
                        dtype=np.uint8))
        columns.append(
            np.concatenate([title_bar(title, panel.shape[1]), panel], 0))
    return np.concatenate(columns, 1)


def _count(n: int, noun: str) -> str:
    return f'{n} {noun}' + ('' if n == 1 else 's')


def compare_figure(visualizer,
                   image,
                   gt,
                   base_sample,
                   b2inst_sample,
                   names,
                   score_thr=0.3,
                   panel_size=384) -> np.ndarray:
    """One picture: GT | baseline | B2Inst | boundary basis (when the B2Inst
    sample has ``pred_boundary``).

    Args:
        visualizer: A ``DetLocalVisualizer`` with the dataset meta.
        image (np.ndarray): ``(H, W, 3)`` RGB image.
        gt (InstanceData, optional): GT instances with ``(N, H, W)`` masks;
            None for the image alone.
        base_sample, b2inst_sample (DetDataSample): Predictions at the
            image's size.
        names (Sequence[str]): Titles of the two models.

    Returns:
        np.ndarray: RGB uint8 picture of height ``TITLE_HEIGHT + H * f``,
        ``f = max(1, panel_size // max(H, W))``.
    """
    factor = max(1, panel_size // max(image.shape[:2]))
    big = image.repeat(factor, 0).repeat(factor, 1)
    panels, titles = [], []
    if gt is None:
        panels.append(big)
        titles.append('image')
    else:
        gt = enlarge(gt, factor)
        panels.append(draw_masks(visualizer, big, gt, gt=True))
        titles.append(f'ground truth ({_count(len(gt), "instance")})')
    for name, sample in zip(names, (base_sample, b2inst_sample)):
        pred = enlarge(sample.pred_instances, factor, score_thr)
        panels.append(draw_masks(visualizer, big, pred, gt=False))
        titles.append(f'{name} ({_count(len(pred), "mask")})')
    if 'pred_boundary' in b2inst_sample:
        panels.append(
            boundary_on_image(b2inst_sample.pred_boundary.data,
                              b2inst_sample.metainfo, big.shape[:2]))
        titles.append(f'{names[1]}: boundary basis')
    return titled_row(panels, titles)


def main(argv=None):
    args = parse_args(argv)
    with friendly_errors():
        for path in (args.base_config, args.base_checkpoint,
                     args.b2inst_config, args.b2inst_checkpoint,
                     *(args.img or [])):
            if not osp.isfile(path):
                raise UserInputError(f'{path} does not exist.')
        stems = [
            osp.splitext(osp.basename(c))[0]
            for c in (args.base_config, args.b2inst_config)
        ]
        names = args.names or stems
        base = load_model(args.base_config, args.base_checkpoint,
                          args.cfg_options)
        b2inst = load_model(args.b2inst_config, args.b2inst_checkpoint,
                            args.cfg_options)
        if args.img:
            images = [(path, None) for path in args.img]
        else:
            images = gt_samples(args.base_config, args.num, args.cfg_options)
        out_dir = args.out_dir or osp.join('work_dirs', 'compare',
                                           f'{stems[0]}_vs_{stems[1]}')
        os.makedirs(out_dir, exist_ok=True)
        visualizer = VISUALIZERS.get('B2InstLocalVisualizer').get_instance(
            'compare_models')
        visualizer.dataset_meta = base.dataset_meta
        written = []
        for path, gt in images:
            image = mmcv.imread(path, channel_order='rgb')
            figure = compare_figure(visualizer, image, gt,
                                    inference_detector(base, path),
                                    inference_detector(b2inst, path), names,
                                    args.score_thr, args.panel_size)
            out = osp.join(out_dir,
                           osp.splitext(osp.basename(path))[0] + '.png')
            mmcv.imwrite(figure[..., ::-1], out)
            written.append(out)
            print(out)
        print(f'{len(written)} side-by-side pictures written to {out_dir}')
    return written


if __name__ == '__main__':
    main()
