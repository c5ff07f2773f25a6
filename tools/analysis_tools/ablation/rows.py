"""The paper's Tables 1-3 as rows of toy configs beside the paper's COCO
configs and numbers, and where a row's runs live."""
import os.path as osp
from collections import OrderedDict, namedtuple

ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

RUNS_DIR = 'work_dirs/ablation'

# A row: its label, its toy config, the COCO config of the same row (None
# for toy-only ablations), the paper's COCO val2017 mask AP (None: not in
# the paper), and the label of its baseline (None: it is one).
Row = namedtuple('Row', 'label toy coco paper base')

TOY = '_r18_1xb8-12e_toy.py'

COCO = dict(yolact='_r50_1xb8-55e_coco.py', blendmask='_r50_1x_coco.py')


def _row(label, family, stem, paper, base, coco=True):
    folder = family if stem == family else f'b2inst_{family}'
    return Row(label, f'configs/{folder}/{stem}{TOY}',
               f'configs/{folder}/{stem}{COCO[family]}' if coco else None,
               paper, base)


def _table2(family):
    host = 'YOLACT' if family == 'yolact' else 'BlendMask'
    rows = [_row(host, family, family, 35.8, None)]
    for design, paper in zip('abcd', (35.7, 36.0, 36.0, 36.0)):
        rows.append(
            _row(f'({design})', family, f'b2inst-{family}_design-{design}',
                 paper, host))
    rows.append(_row('(e)', family, f'b2inst-{family}_hbb', 36.2, host))
    return rows


TABLES = OrderedDict([
    ('1',
     dict(
         title='Table 1: holistic boundary basis (HBB), boundary Dice '
         'scoring (BS) and mask IoU scoring (MS) on BlendMask',
         rows=[
             _row('BlendMask', 'blendmask', 'blendmask', 35.8, None),
             _row('+HBB', 'blendmask', 'b2inst-blendmask_hbb', 36.2,
                  'BlendMask'),
             _row('+HBB+BS', 'blendmask', 'b2inst-blendmask_hbb-bs', 36.3,
                  'BlendMask'),
             _row('+HBB+MS', 'blendmask', 'b2inst-blendmask_hbb-ms', 36.6,
                  'BlendMask'),
             _row('+HBB+BS+MS', 'blendmask', 'b2inst-blendmask', 36.8,
                  'BlendMask'),
             _row('+HBB+BS+MS, paper scorer', 'blendmask',
                  'b2inst-blendmask_paper-scorer', 36.8, 'BlendMask'),
         ])),
    ('2',
     dict(
         title='Table 2: basis-head designs (a)-(e)',
         rows=_table2('blendmask'),
         yolact_rows=_table2('yolact'))),
    ('basis',
     dict(
         title='Ablation: the form of the boundary basis in BlendMask\'s '
         'blender',
         rows=[
             _row('BlendMask', 'blendmask', 'blendmask', 35.8, None),
             _row('+HBB, probabilities', 'blendmask', 'b2inst-blendmask_hbb',
                  36.2, 'BlendMask'),
             _row(
                 '+HBB, logits',
                 'blendmask',
                 'b2inst-blendmask_hbb-logits',
                 None,
                 'BlendMask',
                 coco=False),
             _row(
                 '+HBB, learned a * p + b',
                 'blendmask',
                 'b2inst-blendmask_hbb-affine',
                 None,
                 'BlendMask',
                 coco=False),
         ])),
    ('scorer',
     dict(
         title='Ablation: the holistic boundary basis (HBB) and the '
         'boundary-aware scorer (BS + MS) on BlendMask, each with and '
         'without the other',
         rows=[
             _row('BlendMask', 'blendmask', 'blendmask', 35.8, None),
             _row(
                 '+BS+MS (no HBB)',
                 'blendmask',
                 'b2inst-blendmask_bs-ms',
                 None,
                 'BlendMask',
                 coco=False),
             _row('+HBB', 'blendmask', 'b2inst-blendmask_hbb', 36.2,
                  'BlendMask'),
             _row('+HBB+BS+MS', 'blendmask', 'b2inst-blendmask', 36.8,
                  'BlendMask'),
         ])),
    ('frame',
     dict(
         title="Ablation: Eq. (1) in the fixed 28 x 28 frame or over each "
         "box's own size (the paper's), for Table 1's scorer rows",
         rows=[
             _row('+HBB+BS', 'blendmask', 'b2inst-blendmask_hbb-bs', 36.3,
                  None),
             _row(
                 '+HBB+BS, box frame',
                 'blendmask',
                 'b2inst-blendmask_hbb-bs-box-frame',
                 None,
                 '+HBB+BS',
                 coco=False),
             _row('+HBB+MS', 'blendmask', 'b2inst-blendmask_hbb-ms', 36.6,
                  None),
             _row(
                 '+HBB+MS, box frame',
                 'blendmask',
                 'b2inst-blendmask_hbb-ms-box-frame',
                 None,
                 '+HBB+MS',
                 coco=False),
             _row('+HBB+BS+MS', 'blendmask', 'b2inst-blendmask', 36.8, None),
             _row('+HBB+BS+MS, box frame', 'blendmask',
                  'b2inst-blendmask_box-frame', None, '+HBB+BS+MS'),
         ])),
    ('scorer-width',
     dict(
         title='Ablation: the shipped light scorer (sigmoid outputs, BCE) '
         "against the paper's (Mask Scoring R-CNN's width, linear outputs, "
         'L2) in B2Inst-BlendMask',
         rows=[
             _row('B2Inst-BlendMask', 'blendmask', 'b2inst-blendmask', 36.8,
                  None),
             _row('paper scorer', 'blendmask', 'b2inst-blendmask_paper-scorer',
                  36.8, 'B2Inst-BlendMask'),
         ])),
    ('3',
     dict(
         title='Table 3: B2Inst (HBB + BS + MS) on YOLACT and BlendMask',
         rows=[
             _row('YOLACT', 'yolact', 'yolact', 28.1, None),
             _row('B2Inst-YOLACT', 'yolact', 'b2inst-yolact', 30.1, 'YOLACT'),
             _row('BlendMask', 'blendmask', 'blendmask', 35.8, None),
             _row('B2Inst-BlendMask', 'blendmask', 'b2inst-blendmask', 36.8,
                  'BlendMask'),
         ])),
    ('crisp',
     dict(
         title='Ablation: the crisp-boundary term bounded (shipped) or as '
         'Deng et al. define it, in B2Inst (HBB + BS + MS) on both hosts',
         rows=[
             _row('B2Inst-YOLACT', 'yolact', 'b2inst-yolact', 30.1, None),
             _row('B2Inst-YOLACT, Deng\'s crisp term', 'yolact',
                  'b2inst-yolact_crisp-deng', None, 'B2Inst-YOLACT'),
             _row('B2Inst-BlendMask', 'blendmask', 'b2inst-blendmask', 36.8,
                  None),
             _row('B2Inst-BlendMask, Deng\'s crisp term', 'blendmask',
                  'b2inst-blendmask_crisp-deng', None, 'B2Inst-BlendMask'),
         ])),
])

# Logged metric -> column; logged values are fractions of 1.
METRICS = OrderedDict([('coco/segm_mAP', 'segm mAP'),
                       ('coco/segm_mAP_75', 'AP75'),
                       ('coco/bbox_mAP', 'bbox mAP'),
                       ('boundary/boundary_mAP', 'Boundary AP')])

DELTAS = ('coco/segm_mAP', 'boundary/boundary_mAP')


def table_rows(table: str, model: str = 'blendmask'):
    spec = TABLES[table]
    return spec['yolact_rows'] if table == '2' and model == 'yolact' \
        else spec['rows']


def select_rows(rows, labels):
    """The rows named in ``labels`` and the baselines they are compared
    with, in the table's order (every row without ``labels``)."""
    if not labels:
        return rows
    known = [r.label for r in rows]
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise ValueError(f'no row {", ".join(map(repr, unknown))} in this '
                         f'table; its rows: {", ".join(known)}')
    wanted = set(labels) | {r.base for r in rows if r.label in labels}
    return [r for r in rows if r.label in wanted]


def work_dir(runs_dir: str, config: str, seed: int) -> str:
    stem = osp.splitext(osp.basename(config))[0]
    return osp.join(runs_dir, f'{stem}_seed{seed}')
