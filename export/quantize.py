"""int8 dynamic quantisation of an exported model (weights int8, activations float)."""
from __future__ import annotations

import logging
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic

from .onnx import seal


def quantize(src: str | Path, dst: str | Path) -> Path:
    """Quantise MatMul/Gemm/LSTM weights to int8; segue metadata is carried over."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # onnxruntime logs generic "consider pre-processing" advice on the root logger
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    # quantize_dynamic keeps metadata_props in current onnxruntime; copy them to be sure.
    meta = {p.key: p.value for p in onnx.load(str(src)).metadata_props}
    out = onnx.load(str(dst))
    del out.metadata_props[:]
    for key, value in meta.items():
        out.metadata_props.add(key=key, value=value)
    onnx.save(out, str(dst))
    return seal(dst)  # new weights: a new checksum
