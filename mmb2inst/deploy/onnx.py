"""ONNX export of YOLACT, BlendMask and their B2Inst variants, and an
onnxruntime detector that runs the exported graphs.

Where the line between ONNX and Python is:

* ``network.onnx`` (image -> features): every layer before the detections:
  backbone, FPN, the detection head's dense outputs (class scores, box
  regressions, centerness, per-location coefficients or attention maps),
  the bases and the holistic boundary map, and the FPN levels the scorer
  reads. Input ``(1, 3, H, W)``, normalised and padded; H and W dynamic.
* Python, no weights: mmdet's box decoding, score threshold and NMS
  (``bbox_head.predict_by_feat``), which pick the detections.
* ``instances.onnx`` (detections -> masks and scores): every layer after
  them: YOLACT's prototype x coefficient product, BlendMask's blender
  (RoIAlign of the bases, attention softmax over them), and the
  boundary-aware scorer (RoIAlign of the FPN levels, its convs and fcs).
  Number of detections dynamic.
* Python, no weights: YOLACT's crop / upsample / threshold and BlendMask's
  paste and threshold (mmdet's and mmb2inst's own code), Eq. (2) and the
  sigmoid of the boundary map.

The Python steps reuse the model's own post-processing methods, on a model
built from the config without its weights.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmdet.models.dense_heads import YOLACTProtonet
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData
from torch import Tensor

from mmb2inst.errors import UserInputError
from mmb2inst.models.detectors.boundary_maps import move_boundary_maps
from mmb2inst.models.utils import roi_align
from mmb2inst.structures import rescore

SUPPORTED = ('YOLACT', 'B2InstYOLACT', 'BlendMask')
OPSET = 17


def host_of(model) -> str:
    """``'yolact'`` or ``'blendmask'``; refuses anything else."""
    name = type(model).__name__
    if name not in SUPPORTED:
        raise UserInputError(
            f'{name} is not a model the ONNX exporter supports; it exports '
            f'{", ".join(SUPPORTED)} (YOLACT, BlendMask and their B2Inst '
            'variants).')
    return 'blendmask' if name == 'BlendMask' else 'yolact'


def check_exportable(model) -> None:
    """Refuse options the exporter cannot trace, naming them."""
    host_of(model)
    head = model.mask_head
    if host_of(model) == 'yolact' and not isinstance(head, YOLACTProtonet):
        raise UserInputError(
            f'mask head {type(head).__name__} is not a YOLACTProtonet; the '
            'exporter supports YOLACTProtonet and B2InstYOLACTProtonet.')
    scorer = getattr(head, 'scorer', None)
    if scorer is not None:
        extractor = type(scorer.roi_extractor).__name__
        if extractor != 'SingleRoIExtractor':
            raise UserInputError(
                f'model.mask_head.scorer.roi_extractor.type={extractor} is '
                'not supported by the ONNX exporter (SingleRoIExtractor '
                'is).')
        if scorer.target_frame != 'fixed':
            raise UserInputError(
                f"model.mask_head.scorer.target_frame={scorer.target_frame!r}"
                ' gives every box a frame of its own size, which an ONNX '
                "graph cannot hold; export with target_frame='fixed' (the "
                'default) or use the PyTorch model.')


def scorer_levels(model) -> int:
    scorer = getattr(model.mask_head, 'scorer', None)
    return 0 if scorer is None else scorer.roi_extractor.num_inputs


def extract_rois(extractor, feats: Sequence[Tensor], rois: Tensor) -> Tensor:
    """mmdet's ``SingleRoIExtractor`` as a static graph: every level pools
    every RoI and a one-hot of the RoI's level picks the result (mmdet
    indexes the RoIs of each level, which tracing would freeze)."""
    levels = extractor.map_roi_levels(rois, len(feats))
    out = 0.
    for i, layer in enumerate(extractor.roi_layers):
        pooled = roi_align(feats[i], rois, layer.output_size,
                           layer.spatial_scale, layer.sampling_ratio,
                           layer.aligned)
        out = out + pooled * (levels == i).to(pooled.dtype)[:, None, None,
                                                            None]
    return out


def score_instances(scorer, feats: Sequence[Tensor], rois: Tensor,
                    probs: Tensor) -> Tuple[Tensor, Tensor]:
    """The scorer's two scores in [0, 1] (zeros for a disabled branch), with
    the RoI extraction of :func:`extract_rois`."""
    extractor = scorer.roi_extractor
    scorer.roi_features = lambda f, r: extract_rois(extractor, f, r)
    try:
        out = scorer(feats, rois, scorer.in_frame(probs))
    finally:
        del scorer.roi_features
    zero = rois.new_zeros(rois.shape[0])
    return tuple(
        scorer.scores(out[name]) if out[name] is not None else zero
        for name in ('iou', 'boundary'))


class NetworkGraph(nn.Module):
    """image ``(1, 3, H, W)`` -> the dense head outputs, the bases, the
    boundary logits and the scorer's FPN levels (see :func:`output_names`)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.host = host_of(model)

    def forward(self, image: Tensor) -> Tuple[Tensor, ...]:
        feats = self.model.extract_feat(image)
        outs = [t for group in self.model.bbox_head(feats) for t in group]
        head = self.model.mask_head
        if self.host == 'yolact':
            if hasattr(head, 'basis_maps'):
                bases, boundary = head.basis_maps(feats)
            else:
                bases, boundary = head.protonet(feats[0]).permute(0, 2, 3,
                                                                  1), None
        else:
            bases, _, boundary = head(feats)
        outs.append(bases)
        if boundary is not None:
            outs.append(boundary)
        outs += list(feats[:scorer_levels(self.model)])
        return tuple(outs)


class InstanceGraph(nn.Module):
    """The detections' masks and scores from the outputs of the network.

    YOLACT: ``bases`` ``(1, h, w, K)``, ``coeffs`` ``(N, K)``,
    ``proto_rois`` ``(N, 5)`` (boxes at the prototype scale) -> uncropped
    ``mask_probs`` ``(h, w, N)``. BlendMask: ``bases`` ``(1, K, h, w)``,
    ``params`` ``(N, K * M * M)`` -> ``mask_probs`` ``(N, R, R)``. With the
    scorer, also ``rois`` ``(N, 5)`` (network-input pixels) and the FPN
    levels, -> ``iou_scores``, ``boundary_scores`` ``(N,)``.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.host = host_of(model)
        self.scorer = getattr(model.mask_head, 'scorer', None)

    def forward(self, bases: Tensor, params: Tensor, rois: Tensor,
                proto_rois: Tensor, *feats: Tensor) -> Tuple[Tensor, ...]:
        head = self.model.mask_head
        if self.host == 'yolact':
            probs = torch.sigmoid(bases[0] @ params.t())
            frame = None
            if self.scorer is not None:
                frame = roi_align(
                    probs.permute(2, 0, 1)[:, None], proto_rois,
                    self.scorer.mask_size, 1.0, 0, True)[:, 0]
        else:
            probs = head.instance_probs(bases, rois, params)
            frame = probs
        if self.scorer is None:
            return (probs, )
        return (probs, ) + score_instances(self.scorer, feats, rois, frame)


def output_names(model) -> List[str]:
    head = model.bbox_head
    levels = len(head.prior_generator.strides)
    host = host_of(model)
    groups = ['cls', 'reg', 'coeff'
              ] if host == 'yolact' else ['cls', 'reg', 'ctr', 'param']
    names = [f'{g}_{i}' for g in groups for i in range(levels)]
    names.append('bases')
    if getattr(model.mask_head, 'boundary', None) is not None:
        names.append('boundary')
    names += [f'feat_{i}' for i in range(scorer_levels(model))]
    return names


def _dynamic_axes(names: Sequence[str], spatial: Sequence[str]) -> dict:
    axes = {}
    for name in names:
        if name in spatial or name.split('_')[0] in spatial:
            axes[name] = {2: f'{name}_h', 3: f'{name}_w'}
    return axes


def export(model,
           out_dir: str,
           shape: Tuple[int, int] = (128, 128),
           force: bool = False,
           opset: int = OPSET) -> Dict[str, str]:
    """Write ``network.onnx`` and ``instances.onnx`` of ``model`` (eval
    mode, CPU) into ``out_dir``.

    Refuses unsupported models and options, and existing files without
    ``force``, before writing anything.

    Returns:
        dict: ``network`` and ``instances`` paths.
    """
    check_exportable(model)
    paths = dict(
        network=osp.join(out_dir, 'network.onnx'),
        instances=osp.join(out_dir, 'instances.onnx'))
    existing = [p for p in paths.values() if osp.exists(p)]
    if existing and not force:
        raise UserInputError(
            f'{", ".join(existing)} already exist(s); pass --force to '
            'overwrite.')
    import os
    os.makedirs(out_dir, exist_ok=True)
    model = model.cpu().eval()
    host = host_of(model)
    image = torch.zeros(1, 3, *shape)
    names = output_names(model)
    with torch.no_grad():
        outs = NetworkGraph(model)(image)
    spatial = ['cls', 'reg', 'ctr', 'param', 'coeff', 'boundary', 'feat']
    axes = _dynamic_axes(names, spatial)
    axes['bases'] = {
        1: 'bases_h',
        2: 'bases_w'
    } if host == 'yolact' else {
        2: 'bases_h',
        3: 'bases_w'
    }
    axes['image'] = {2: 'height', 3: 'width'}
    torch.onnx.export(
        NetworkGraph(model), (image, ),
        paths['network'],
        input_names=['image'],
        output_names=names,
        dynamic_axes=axes,
        opset_version=opset,
        dynamo=False)
    # instances.onnx, traced with three detections
    bases = outs[names.index('bases')]
    feats = [
        outs[names.index(f'feat_{i}')] for i in range(scorer_levels(model))
    ]
    num = 3
    boxes = torch.tensor([[10., 12., 60., 70.], [30., 5., 90., 50.],
                          [0., 0., 40., 40.]])
    rois = torch.cat([boxes.new_zeros(num, 1), boxes], 1)
    if host == 'yolact':
        params = torch.rand(num, bases.shape[-1]) - 0.5
    else:
        params = torch.rand(num, model.bbox_head.num_params)
    inputs = (bases, params, rois, rois.clone(), *feats)
    in_names = ['bases', 'params', 'rois', 'proto_rois'
                ] + [f'feat_{i}' for i in range(len(feats))]
    out_names = ['mask_probs']
    if getattr(model.mask_head, 'scorer', None) is not None:
        out_names += ['iou_scores', 'boundary_scores']
    axes = {n: {0: 'num'} for n in ('params', 'rois', 'proto_rois')}
    axes.update({n: {0: 'num'} for n in out_names})
    if host == 'yolact':
        axes['bases'] = {1: 'bases_h', 2: 'bases_w'}
        axes['mask_probs'] = {0: 'bases_h', 1: 'bases_w', 2: 'num'}
    else:
        axes['bases'] = {2: 'bases_h', 3: 'bases_w'}
    for i in range(len(feats)):
        axes[f'feat_{i}'] = {2: f'fh{i}', 3: f'fw{i}'}
    torch.onnx.export(
        InstanceGraph(model),
        inputs,
        paths['instances'],
        input_names=in_names,
        output_names=out_names,
        dynamic_axes=axes,
        opset_version=opset,
        dynamo=False)
    return paths


def instance_feed(host: str, results: InstanceData, bases: Tensor,
                  feats: Sequence[Tensor], meta: dict) -> Dict[str, Tensor]:
    """The instance graph's inputs for one image's detections
    (``results.bboxes`` in network-input pixels)."""
    boxes = results.bboxes
    rois = torch.cat([boxes.new_zeros(len(boxes), 1), boxes], 1)
    feed = dict(bases=bases, rois=rois)
    feed.update({f'feat_{i}': f for i, f in enumerate(feats)})
    if host == 'yolact':
        h, w = bases.shape[1:3]
        pad_h, pad_w = (meta.get('batch_input_shape') or meta['img_shape'])[:2]
        scale = boxes.new_tensor([w / pad_w, h / pad_h] * 2)
        # instance i's mask is "image" i of the masks it is pooled from
        index = torch.arange(len(boxes), dtype=boxes.dtype)[:, None]
        feed.update(
            params=results.coeffs,
            proto_rois=torch.cat([index, boxes * scale], 1))
    else:
        feed.update(params=results.param_preds, proto_rois=rois)
    return feed


class OnnxDetector:
    """Inference with the exported graphs in onnxruntime, the same results
    as ``model.predict`` (see the module docstring for what runs where).

    Args:
        model: The detector built from the config; its weights are not used,
            only its preprocessing and post-processing code.
        out_dir (str): Where :func:`export` wrote the graphs.
    """

    def __init__(self, model, out_dir: str, threads: Optional[int] = None):
        import onnxruntime as ort
        self.model = model.cpu().eval()
        self.host = host_of(model)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.network = ort.InferenceSession(
            osp.join(out_dir, 'network.onnx'),
            options,
            providers=['CPUExecutionProvider'])
        self.instances = ort.InferenceSession(
            osp.join(out_dir, 'instances.onnx'),
            options,
            providers=['CPUExecutionProvider'])
        self.names = output_names(model)
        self.instance_inputs = [i.name for i in self.instances.get_inputs()]

    def _run_network(self, image: Tensor) -> Dict[str, Tensor]:
        outs = self.network.run(None, {'image': image.numpy()})
        return {n: torch.from_numpy(o) for n, o in zip(self.names, outs)}

    def _run_instances(self, feed: Dict[str, Tensor]) -> List[Tensor]:
        outs = self.instances.run(None, {
            k: v.numpy()
            for k, v in feed.items() if k in self.instance_inputs
        })
        return [torch.from_numpy(o) for o in outs]

    @torch.no_grad()
    def predict(self,
                inputs: Tensor,
                data_samples: List[DetDataSample],
                rescale: bool = True,
                return_probs: bool = False) -> List[DetDataSample]:
        """Like ``model.predict`` on one preprocessed image.

        With ``return_probs`` each result also holds ``mask_probs`` (the
        instance graph's mask probabilities, before pasting).
        """
        if inputs.shape[0] != 1:
            raise ValueError('the exported graphs take one image at a time')
        out = self._run_network(inputs.float())
        head = self.model.bbox_head
        levels = len(head.prior_generator.strides)
        groups = ['cls', 'reg', 'coeff'] if self.host == 'yolact' else [
            'cls', 'reg', 'ctr', 'param'
        ]
        dense = [[out[f'{g}_{i}'] for i in range(levels)] for g in groups]
        metas = [s.metainfo for s in data_samples]
        results = head.predict_by_feat(
            *dense, batch_img_metas=metas, rescale=False)[0]
        feats = [out[f'feat_{i}'] for i in range(scorer_levels(self.model))]
        boxes = results.bboxes
        bases = out['bases']
        feed = instance_feed(self.host, results, bases, feats, metas[0])
        scored = getattr(self.model.mask_head, 'scorer', None) is not None
        if len(boxes):
            outs = self._run_instances(feed)
        else:
            outs = [self._empty_probs(bases)] + [boxes.new_zeros(0)] * 2
        probs = outs[0]
        iou = bnd = None
        if scored:
            scorer = self.model.mask_head.scorer
            iou = outs[1].float().clamp(0, 1) if scorer.with_iou else None
            bnd = outs[2].float().clamp(0, 1) if scorer.with_boundary else None
        boundary = out.get('boundary')
        result = self._finish(results, probs, iou, bnd, metas[0], rescale,
                              None if boundary is None else boundary[0])
        if return_probs:
            result.mask_probs = probs.permute(2, 0, 1) \
                if self.host == 'yolact' else probs
        sample = data_samples[0]
        sample.pred_instances = result
        return move_boundary_maps([sample])

    def _empty_probs(self, bases: Tensor) -> Tensor:
        if self.host == 'yolact':
            return bases.new_zeros(*bases.shape[1:3], 0)
        size = self.model.mask_head.pooler_size
        return bases.new_zeros(0, size, size)

    def _finish(self, results, probs, iou, bnd, meta, rescale,
                boundary_logits) -> InstanceData:
        head = self.model.mask_head
        if self.host == 'blendmask':
            return head.finish(results, probs, iou, bnd, meta, rescale,
                               boundary_logits)
        out = YOLACTProtonet.predict_by_feat(head, [probs], None, [results],
                                             [meta], rescale)[0]
        if getattr(head, 'scorer', None) is not None:
            if iou is not None:
                out.iou_scores = iou
            if bnd is not None:
                out.boundary_scores = bnd
            out.mask_scores = rescore(out.scores, iou, bnd)
        if boundary_logits is not None:
            out.set_metainfo(
                dict(boundary_map=boundary_logits.detach().sigmoid()))
        return out
