#!/usr/bin/python3
"""Exports the ONNX models lowbit's engine is tested and benchmarked on, with Debian's PyTorch
(python3-torch, python3-torchvision). Random weights (seeded); nothing is downloaded.

  /usr/bin/python3 scripts/export_onnx_models.py [--out data/models] [--only NAME ...]

Writes resnet50.onnx, mobilenet_v2.onnx (torchvision, 3x224x224, dynamic batch),
bert_base.onnx (12 layers, hidden 768, 12 heads, seq 128, dynamic batch), and the small test
models bert_tiny.onnx (opset 14: decomposed LayerNorm, Erf Gelu) and bert_tiny_opset17.onnx
(LayerNormalization op). Existing files are kept unless --force.

--zoo (or --only NAME) adds more torchvision architectures, each with its own mix of ops:
efficientnet_b0 (SiLU, squeeze-excitation), densenet121 (Concat chains), googlenet (Inception
branches), shufflenet_v2 (channel shuffle: Reshape/Transpose, Split), regnet_y_400mf (grouped
convs, SE), mobilenet_v3_small and mobilenet_v3_large (HardSwish, HardSigmoid).
"""
import argparse
import math
import os

import torch
from torch import nn


class Encoder(nn.Module):
    """A BERT-style encoder: embeddings + post-LN transformer layers with GELU FFN."""

    def __init__(self, vocab=30522, hidden=768, layers=12, heads=12, ffn=3072, max_pos=512):
        super().__init__()
        self.heads = heads
        self.word = nn.Embedding(vocab, hidden)
        self.pos = nn.Embedding(max_pos, hidden)
        self.seg = nn.Embedding(2, hidden)
        self.ln = nn.LayerNorm(hidden, eps=1e-12)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(nn.ModuleDict({
                "q": nn.Linear(hidden, hidden), "k": nn.Linear(hidden, hidden), "v": nn.Linear(hidden, hidden),
                "o": nn.Linear(hidden, hidden), "ln1": nn.LayerNorm(hidden, eps=1e-12),
                "f1": nn.Linear(hidden, ffn), "f2": nn.Linear(ffn, hidden), "ln2": nn.LayerNorm(hidden, eps=1e-12)}))

    def forward(self, input_ids, attention_mask, token_type_ids):
        b, s = input_ids.shape
        positions = torch.arange(s, device=input_ids.device).unsqueeze(0)
        x = self.ln(self.word(input_ids) + self.pos(positions) + self.seg(token_type_ids))
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        d = x.shape[-1] // self.heads
        for blk in self.blocks:
            def split(t):
                return t.view(b, s, self.heads, d).transpose(1, 2)
            q, k, v = split(blk["q"](x)), split(blk["k"](x)), split(blk["v"](x))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
            ctx = (att @ v).transpose(1, 2).reshape(b, s, -1)
            x = blk["ln1"](x + blk["o"](ctx))
            x = blk["ln2"](x + blk["f2"](nn.functional.gelu(blk["f1"](x))))
        return x


def export(model, args, path, names, outputs, dynamic, opset):
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, path, input_names=names, output_names=outputs, opset_version=opset,
                          dynamic_axes={n: {0: "batch"} for n in names + outputs} if dynamic else None,
                          do_constant_folding=True)
    print("wrote", path, f"({os.path.getsize(path) / 1e6:.1f} MB)")


def randomize_bn(model):
    """Random BatchNorm statistics and affine terms, so that activations stay O(1) and every
    BN parameter matters (torchvision's init leaves them at 0/1)."""
    g = torch.Generator().manual_seed(2)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.1)
    return model


def bert_args(batch, seq, vocab):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.int64)
    mask[:, seq - seq // 4:] = 0
    seg = torch.zeros(batch, seq, dtype=torch.int64)
    seg[:, seq // 2:] = 1
    return ids, mask, seg


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "data", "models"))
    p.add_argument("--only", nargs="*")
    p.add_argument("--force", action="store_true")
    p.add_argument("--zoo", action="store_true", help="also the extra torchvision architectures")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(0)
    bert_in = ["input_ids", "attention_mask", "token_type_ids"]
    jobs = {
        "bert_tiny": lambda f: export(Encoder(vocab=1000, hidden=64, layers=2, heads=4, ffn=128, max_pos=64),
                                      bert_args(1, 16, 1000), f, bert_in, ["hidden"], True, 14),
        "bert_tiny_opset17": lambda f: export(Encoder(vocab=1000, hidden=64, layers=2, heads=4, ffn=128, max_pos=64),
                                              bert_args(1, 16, 1000), f, bert_in, ["hidden"], True, 17),
        "bert_base": lambda f: export(Encoder(), bert_args(1, 128, 30522), f, bert_in, ["hidden"], True, 14),
    }
    try:
        import torchvision
        jobs["mobilenet_v2"] = lambda f: export(randomize_bn(torchvision.models.mobilenet_v2()), torch.randn(1, 3, 224, 224), f,
                                                ["input"], ["logits"], True, 14)
        jobs["resnet50"] = lambda f: export(randomize_bn(torchvision.models.resnet50()), torch.randn(1, 3, 224, 224), f,
                                            ["input"], ["logits"], True, 14)
        tv = torchvision.models
        zoo = {
            "efficientnet_b0": lambda: tv.efficientnet_b0(),
            "densenet121": lambda: tv.densenet121(),
            "googlenet": lambda: tv.googlenet(aux_logits=False, init_weights=True),
            "shufflenet_v2": lambda: tv.shufflenet_v2_x1_0(),
            "regnet_y_400mf": lambda: tv.regnet_y_400mf(),
            "mobilenet_v3_small": lambda: tv.mobilenet_v3_small(),
            "mobilenet_v3_large": lambda: tv.mobilenet_v3_large(),
        }
        for name, make in zoo.items():
            if a.zoo or (a.only and name in a.only):
                jobs[name] = lambda f, make=make: export(randomize_bn(make()), torch.randn(1, 3, 224, 224), f,
                                                         ["input"], ["logits"], True, 14)
    except ImportError:
        print("python3-torchvision is not installed: skipping mobilenet_v2 and resnet50")
    for name, job in jobs.items():
        if a.only and name not in a.only:
            continue
        path = os.path.join(a.out, name + ".onnx")
        if os.path.exists(path) and not a.force:
            continue
        torch.manual_seed(0)
        job(path)


if __name__ == "__main__":
    main()
