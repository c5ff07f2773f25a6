# Table 4, B2Inst-BlendMask R-101 1x, on COCO test-dev2017: the model of
# b2inst-blendmask_r101_1x_coco.py on test-dev's unlabelled images. The
# metric only writes the results file for the COCO evaluation server
# (<outfile_prefix>.segm.json, masks ranked by their mask score; upload
# it as detections_test-dev2017_<method>_results.json in a zip).
_base_ = './b2inst-blendmask_r101_1x_coco.py'

test_dataloader = {{_base_.coco_test_dev}}
test_evaluator = dict(
    _delete_=True,
    type='CocoMetric',
    metric=['bbox', 'segm'],
    format_only=True,
    ann_file='data/coco/annotations/image_info_test-dev2017.json',
    outfile_prefix='work_dirs/b2inst-blendmask_r101_1x_coco-test-dev/'
    'detections_test-dev2017_b2inst-blendmask-r101-1x_results')
