"""Deployment: ONNX export and an onnxruntime detector (needs the
``onnx`` and ``onnxruntime`` packages: ``pip install mmb2inst[deploy]``)."""
from .onnx import OnnxDetector, check_exportable, export

__all__ = ['OnnxDetector', 'check_exportable', 'export']
