#!/usr/bin/python3
"""Writes tests/onnx/data/torch_attention.onnx: one self-attention block of
bench/peers/train_dsads_transformer.py (packed QKV Linear, 2 heads of 4, scaled softmax, output
projection) on 6 tokens of width 8, exported by torch.onnx at opset 17 with a dynamic batch: the
chain fuse_attention turns into lowbit.Attention. A fuzz seed (scripts/fuzz-seeds) and read by
tests/onnx/attention_fusion_test.cc against ONNX Runtime.
  /usr/bin/python3 scripts/export_attention.py [out.onnx]"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "peers"))
from train_dsads_transformer import Attention  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "onnx", "data", "torch_attention.onnx")
    torch.manual_seed(0)
    m = Attention(8, 2).eval()
    x = torch.randn(1, 6, 8)
    torch.onnx.export(m, x, out, opset_version=17, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    print(out)


if __name__ == "__main__":
    main()
