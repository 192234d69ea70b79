#!/usr/bin/python3
"""PyTorch peer of `lowbit bench train`: the same MLP and ResNet-20 (CIFAR layout, option-A
shortcuts, 1x28x28 input), SGD with momentum, timed training steps on random data.

Usage: /usr/bin/python3 bench/peers/torch_train.py --model mlp --threads 1 --batch-size 128 --steps 50
Prints one JSON object: {"engine": "pytorch", "model", "threads", "batch_size", "step_ms", "images_per_second"}.
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


class ShortcutA(nn.Module):
    def __init__(self, planes):
        super().__init__()
        self.pad = planes // 4

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    def __init__(self, inp, out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.shortcut = ShortcutA(out) if stride != 1 or inp != out else nn.Identity()

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + self.shortcut(x))


def resnet(depth, in_ch=1, classes=10):
    n = (depth - 2) // 6
    layers = [nn.Conv2d(in_ch, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    inp = 16
    for stage in range(3):
        out = 16 << stage
        for b in range(n):
            layers.append(BasicBlock(inp, out, 2 if (b == 0 and stage > 0) else 1))
            inp = out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes)]
    return nn.Sequential(*layers)


def mlp(classes=10):
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, classes))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="mlp", choices=["mlp", "resnet20", "resnet32"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = mlp() if a.model == "mlp" else resnet(int(a.model[6:]))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(a.batch_size, 1, 28, 28)
    y = torch.randint(0, 10, (a.batch_size,))
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    dt = (time.perf_counter() - t0) / a.steps
    print(json.dumps({"engine": "pytorch", "torch_version": torch.__version__, "model": a.model,
                      "threads": a.threads, "batch_size": a.batch_size, "step_ms": dt * 1e3,
                      "images_per_second": a.batch_size / dt}))


if __name__ == "__main__":
    main()
