"""mmb2inst.models.utils.roi_align on views that are not contiguous."""
import torch

from mmb2inst.models.utils import roi_align


def test_permuted_view_pools_the_same_as_its_contiguous_copy():
    # YOLACT's instance masks are (h, w, N); the scorer pools them as
    # (N, 1, h, w). mmcv's kernel reads memory as contiguous, so without a
    # copy a permuted view pooled other instances' pixels (found by the ONNX
    # parity check of a trained B2Inst-YOLACT: its reference scores were off
    # by up to 0.02 while the exported graph was right).
    torch.manual_seed(0)
    masks = torch.rand(32, 32, 4)
    rois = torch.tensor([[0, 2., 3, 20, 25], [1, 5, 5, 30, 18],
                         [2, 0, 0, 31, 31], [3, 10, 12, 14, 15]])
    view = masks.permute(2, 0, 1)[:, None]
    assert not view.is_contiguous()
    expected = roi_align(view.contiguous(), rois, 28, 1.0, 0, True)
    assert torch.equal(roi_align(view, rois, 28, 1.0, 0, True), expected)
    # and each instance is pooled from its own mask
    for i in range(4):
        own = roi_align(masks[None, None, :, :, i],
                        rois[i:i + 1] * torch.tensor([0., 1, 1, 1, 1]), 28,
                        1.0, 0, True)
        assert torch.allclose(expected[i], own[0])
