"""mmdet's ``DetInferencer`` with what B2Inst adds at test time."""
import os.path as osp
from typing import Dict

import mmcv
import numpy as np
from mmdet.apis import DetInferencer
from mmdet.structures import DetDataSample

from ..utils.checkpoint import mmengine_checkpoints

# Per-instance scores the B2Inst heads predict (Eq. 2 and its two factors).
SCORE_FIELDS = ('mask_scores', 'iou_scores', 'boundary_scores')


class B2InstInferencer(DetInferencer):
    """``DetInferencer`` whose predictions keep B2Inst's scores.

    Each prediction dict has mmdet's ``labels``, ``scores`` (the class score
    of the box), ``bboxes`` and ``masks`` (RLE), and, for a model with the
    boundary-aware scorer, ``mask_scores`` (Eq. 2, what COCO's mask AP ranks
    by), ``iou_scores`` (S_IoU) and ``boundary_scores`` (S_boundary), one per
    instance. With ``return_boundary=True`` (a call argument, for models
    with the holistic boundary basis) it also holds the predicted boundary
    map: written to ``<pred_out_dir>/preds/<image>_boundary.png``
    (probabilities x 255, at the prediction's resolution: the basis stride
    of the network input) with its path in ``boundary_map_path`` when
    predictions are saved, else as ``boundary_map``, an ``(h, w)`` float32
    array. Pictures (``out_dir``) come from the config's visualizer: for the
    B2Inst configs ground truth | prediction | boundary map.

    Example::

        inferencer = B2InstInferencer(CONFIG, CHECKPOINT, device='cpu')
        out = inferencer('images/', out_dir='outputs/', return_boundary=True)
        out['predictions'][0]['mask_scores']
    """

    postprocess_kwargs = DetInferencer.postprocess_kwargs | {'return_boundary'}

    def _init_model(self, cfg, weights, device='cpu'):
        # checkpoints written by training carry MMEngine's message hub
        with mmengine_checkpoints():
            return super()._init_model(cfg, weights, device)

    def postprocess(self,
                    preds,
                    visualization=None,
                    return_boundary=False,
                    **kwargs) -> Dict:
        self._return_boundary = return_boundary
        return super().postprocess(preds, visualization, **kwargs)

    def pred2dict(self,
                  data_sample: DetDataSample,
                  pred_out_dir: str = '') -> Dict:
        result = super().pred2dict(data_sample, pred_out_dir='')
        pred = data_sample.get('pred_instances')
        for field in SCORE_FIELDS:
            if pred is not None and field in pred:
                result[field] = pred[field].cpu().float().tolist()
        boundary = data_sample.get('pred_boundary')
        name = self._output_name(data_sample)
        if getattr(self, '_return_boundary', False) and boundary is not None:
            prob = boundary.data[0].detach().float().cpu().numpy()
            if pred_out_dir:
                path = osp.join(pred_out_dir, 'preds', f'{name}_boundary.png')
                mmcv.imwrite(np.uint8(np.round(255 * prob)), path)
                result['boundary_map_path'] = path
            else:
                result['boundary_map'] = prob
        if pred_out_dir:
            import mmengine
            mmengine.mkdir_or_exist(osp.join(pred_out_dir, 'preds'))
            mmengine.dump(result,
                          osp.join(pred_out_dir, 'preds', f'{name}.json'))
        return result

    def _output_name(self, data_sample: DetDataSample) -> str:
        """The file stem mmdet's inferencer names outputs by."""
        if 'img_path' in data_sample:
            return osp.splitext(osp.basename(data_sample.img_path))[0]
        name = str(self.num_predicted_imgs)
        self.num_predicted_imgs += 1
        return name
