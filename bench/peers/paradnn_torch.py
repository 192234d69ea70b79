#!/usr/bin/python3
"""PyTorch peer of `lowbit paradnn run`: builds the same generated network from the same JSON
config (src/paradnn/model.h: FC, ResNet-v1 with basic/bottleneck blocks, stride on a block's first
conv, projection shortcut conv1x1-BN, or embedding + RNN/LSTM/GRU + vocabulary projection) and times training steps (softmax cross-entropy,
SGD momentum 0.9, lr 0.01) or inference (eval mode, inference_mode) on random data.

Usage: /usr/bin/python3 bench/peers/paradnn_torch.py --config '{"family":"fc",...}' --mode train
           --threads 1 [--warmup 2] [--min-steps 5] [--min-time 0.5] [--seed 1]
Prints one JSON object: {"engine": "pytorch", "step_ms": [...], "cpu_ms": [...] (process CPU time per step), "threads": N, "params": count, "torch": version}.
"""
import argparse
import json
import os
import sys
import time


from pin_threads import pin_threads_from_argv  # noqa: E402  (the script's folder is on sys.path)

pin_threads_from_argv("1")
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class ConvBn(nn.Module):
    def __init__(self, cin, cout, k, stride, relu):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = relu

    def forward(self, x):
        h = self.bn(self.conv(x))
        return F.relu(h) if self.relu else h


class Block(nn.Module):
    def __init__(self, cin, width, stride, bottleneck):
        super().__init__()
        out = 4 * width if bottleneck else width
        if bottleneck:
            self.convs = nn.Sequential(ConvBn(cin, width, 1, stride, True), ConvBn(width, width, 3, 1, True),
                                       ConvBn(width, out, 1, 1, False))
        else:
            self.convs = nn.Sequential(ConvBn(cin, width, 3, stride, True), ConvBn(width, width, 3, 1, False))
        self.proj = ConvBn(cin, out, 1, stride, False) if stride != 1 or cin != out else None
        self.out = out

    def forward(self, x):
        return F.relu(self.convs(x) + (self.proj(x) if self.proj is not None else x))


class RnnNet(nn.Module):
    """embedding -> nn.RNN/LSTM/GRU (layers, width = embedding) -> Linear(vocab), time-major logits."""

    def __init__(self, cfg):
        super().__init__()
        h = cfg["embedding"]
        self.embedding = nn.Embedding(cfg["vocab"], h)
        cell = (nn.RNN, nn.LSTM, nn.GRU)[cfg["cell"]]
        self.rnn = cell(h, h, num_layers=cfg["layers"], batch_first=False)
        self.out = nn.Linear(h, cfg["vocab"])

    def forward(self, tokens):  # tokens (B, T)
        y, _ = self.rnn(self.embedding(tokens.t()))  # (T, B, H)
        return self.out(y.reshape(-1, y.shape[-1]))  # (T*B, vocab)


def build(cfg):
    if cfg["family"] == "rnn":
        return RnnNet(cfg), None, cfg["vocab"]
    if cfg["family"] == "fc":
        layers, fin = [], cfg["input"]
        for _ in range(cfg["layers"]):
            layers += [nn.Linear(fin, cfg["nodes"]), nn.ReLU()]
            fin = cfg["nodes"]
        layers.append(nn.Linear(fin, cfg["output"]))
        return nn.Sequential(*layers), (cfg["input"],), cfg["output"]
    f, bottleneck = cfg["filters"], bool(cfg["bottleneck"])
    mods = [ConvBn(3, f, 7, 2, True), nn.MaxPool2d(3, 2, 1)]
    cin = f
    for g in range(4):
        for b in range(cfg["blocks"]):
            blk = Block(cin, f << g, 2 if g > 0 and b == 0 else 1, bottleneck)
            mods.append(blk)
            cin = blk.out
    mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, cfg["classes"])]
    return nn.Sequential(*mods), (3, cfg["image"], cfg["image"]), cfg["classes"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--mode", choices=["train", "infer"], default="train")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--min-steps", type=int, default=5)
    p.add_argument("--min-time", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    cfg = json.loads(a.config)
    if cfg.get("family") not in ("fc", "cnn", "rnn"):
        sys.exit(f"paradnn_torch: unknown family {cfg.get('family')!r} (expected fc, cnn or rnn)")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model, shape, classes = build(cfg)
    if cfg["family"] == "rnn":
        x = torch.randint(0, classes, (cfg["batch"], cfg["length"]))
        y = torch.randint(0, classes, (cfg["batch"] * cfg["length"],))
    else:
        x = torch.randn(cfg["batch"], *shape)
        y = torch.randint(0, classes, (cfg["batch"],))
    if a.mode == "train":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.inference_mode():
                model(x)
    for _ in range(a.warmup):
        step()
    times, cpu, start = [], [], time.perf_counter()  # wall and process CPU ms per step
    while len(times) < a.min_steps or time.perf_counter() - start < a.min_time:
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        cpu.append((time.process_time() - c0) * 1e3)
        times.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"engine": "pytorch", "step_ms": times, "cpu_ms": cpu, "threads": torch.get_num_threads(),
                      "params": sum(p.numel() for p in model.parameters()),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
