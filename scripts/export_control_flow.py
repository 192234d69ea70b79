#!/usr/bin/python3
"""Writes tests/onnx/data/torch_loop_if.onnx: a torch.jit.script module whose loop count and
branch depend on run-time values, exported by torch.onnx (Loop with an If in its body reading the
outer Linear weights). Used by tests/onnx/control_flow_test.cc against ONNX Runtime.
  /usr/bin/python3 scripts/export_control_flow.py [out.onnx]"""
import sys

import torch


class LoopIf(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(8, 8)

    def forward(self, x: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        h = x
        for _ in range(int(steps)):
            h = torch.tanh(self.fc(h))
            if bool(h.mean() > 0):
                h = h - 0.25
            else:
                h = h * 2.0 + 0.5
        k = 0
        while bool(h.abs().max() > 0.5) and k < 20:  # data-dependent trip count
            h = h * 0.75
            k += 1
        return h


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/onnx/data/torch_loop_if.onnx"
    torch.manual_seed(0)
    m = torch.jit.script(LoopIf().eval())
    x = torch.randn(2, 8)
    torch.onnx.export(m, (x, torch.tensor(3)), out, opset_version=13, input_names=["x", "steps"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}})
    print("wrote", out)


if __name__ == "__main__":
    main()
