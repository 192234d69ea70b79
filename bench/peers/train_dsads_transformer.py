#!/usr/bin/python3
"""A small transformer encoder on DSADS raw windows, trained with Debian's PyTorch and exported
to ONNX for lowbit's post-training quantization (issue 11 item 5: the papers quantize BERT).

Tokens are the 125 time steps of a 5 s window; each token holds the 45 sensor channels,
standardized per channel with the train split's mean/std. Model: Linear(45 -> d) + learned
positional embedding, L post-norm encoder layers (multi-head self-attention with explicit
MatMul/Softmax, GELU FFN of width 2d, LayerNorm), mean over tokens, LayerNorm, Linear(d -> 19).
Attention is written out by hand so torch.onnx.export emits plain MatMul/Softmax/LayerNorm ops
(not PyTorch's fused encoder fast path).

Split by subject as lowbit's loader does for seed 0 (src/data/dsads.cc: test subjects 2 and 7).

Writes into --out (default data/models):
  dsads_transformer.onnx           opset 17, input "x" [N, 125, 45] float32, output "logits" [N, 19]
  dsads_transformer_eval.npy       test windows, standardized, [N, 125, 45] float32
  dsads_transformer_labels.npy     their labels, int64
  dsads_transformer_calib.npy      256 train windows (every k-th), for calibration
  dsads_transformer_logits.npy     PyTorch's logits on the eval set (the golden output)
  dsads_transformer.json           accuracy, seed, epochs, normalization, wall time

Usage: /usr/bin/python3 bench/peers/train_dsads_transformer.py [--data data/DSADS] [--out data/models]
           [--epochs 6] [--threads 2] [--seed 0] [--quick]
"""
import argparse
import json
import os
import sys
import time


from pin_threads import pin_threads_from_argv  # noqa: E402  (the script's folder is on sys.path)

pin_threads_from_argv("2")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

CLASSES, SUBJECTS, ROWS, CHANNELS = 19, 8, 125, 45
TEST_SUBJECTS = (2, 7)  # lowbit's dsads_pick_test_subjects(seed 0, 8 subjects, 2)


def load_dsads(root):
    """(x [N, 125, 45] float32, labels [N], subjects [N]) ordered by (class, subject, segment)."""
    cache = os.path.join(root, ".dsads_raw_cache.npz")
    if os.path.exists(cache):
        z = np.load(cache)
        return z["x"], z["y"], z["s"]
    xs, ys, ss = [], [], []
    for a in range(1, CLASSES + 1):
        for p in range(1, SUBJECTS + 1):
            folder = os.path.join(root, f"a{a:02d}", f"p{p}")
            for name in sorted(os.listdir(folder)):
                w = np.loadtxt(os.path.join(folder, name), delimiter=",", dtype=np.float32)
                if w.shape != (ROWS, CHANNELS):
                    sys.exit(f"{folder}/{name}: expected {ROWS}x{CHANNELS} values, got {w.shape}")
                xs.append(w)
                ys.append(a - 1)
                ss.append(p)
    x, y, s = np.stack(xs), np.array(ys, np.int64), np.array(ss, np.int64)
    try:  # atomically: a concurrent reader never sees a torn cache
        tmp = f"{cache}.{os.getpid()}.tmp.npz"
        np.savez(tmp, x=x, y=y, s=s)
        os.replace(tmp, cache)
    except OSError:
        pass
    return x, y, s


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):  # x (B, T, d)
        b, t, d = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, self.dh).permute(2, 0, 3, 1, 4)  # each (B, H, T, dh)
        att = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * (self.dh ** -0.5), dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).reshape(b, t, d)
        return self.proj(y)


class EncoderLayer(nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.att, self.norm1 = Attention(d, heads), nn.LayerNorm(d)
        self.ff1, self.ff2, self.norm2 = nn.Linear(d, ffn), nn.Linear(ffn, d), nn.LayerNorm(d)

    def forward(self, x):
        x = self.norm1(x + self.att(x))
        return self.norm2(x + self.ff2(F.gelu(self.ff1(x))))


class Encoder(nn.Module):
    def __init__(self, d=64, heads=4, layers=2, ffn=128):
        super().__init__()
        self.embed = nn.Linear(CHANNELS, d)
        self.pos = nn.Parameter(torch.zeros(1, ROWS, d))
        nn.init.normal_(self.pos, std=0.02)
        self.layers = nn.ModuleList([EncoderLayer(d, heads, ffn) for _ in range(layers)])
        self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, CLASSES)

    def forward(self, x):  # x (B, 125, 45)
        h = self.embed(x) + self.pos
        for layer in self.layers:
            h = layer(h)
        return self.head(self.norm(h.mean(dim=1)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/DSADS")
    ap.add_argument("--out", default="data/models")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true",
                    help="tests: 1 epoch on every 8th train window, every 8th test window (seconds)")
    args = ap.parse_args()
    if args.quick:
        args.epochs = 1
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    t0 = time.time()

    x, y, s = load_dsads(args.data)
    test = np.isin(s, TEST_SUBJECTS)
    xtr, ytr, xte, yte = x[~test], y[~test], x[test], y[test]
    if args.quick:
        xtr, ytr, xte, yte = xtr[::8], ytr[::8], xte[::8], yte[::8]
    mean = xtr.mean(axis=(0, 1), dtype=np.float64).astype(np.float32)  # per channel
    std = xtr.std(axis=(0, 1), dtype=np.float64).astype(np.float32)
    std[std < 1e-8] = 1.0
    xtr = ((xtr - mean) / std).astype(np.float32)
    xte = ((xte - mean) / std).astype(np.float32)

    model = Encoder()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    steps = args.epochs * ((len(xtr) + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.15)
    gen = torch.Generator().manual_seed(args.seed)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(perm), args.batch):
            idx = perm[i:i + args.batch]
            logits = model(xt[idx])
            loss = F.cross_entropy(logits, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += len(idx)
            correct += int((logits.argmax(1) == yt[idx]).sum())
            loss_sum += float(loss) * len(idx)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss_sum / total:.4f} train acc {correct / total:.4f} "
              f"({time.time() - t0:.0f} s)", file=sys.stderr)

    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(torch.from_numpy(xte[i:i + 256])) for i in range(0, len(xte), 256)]).numpy()
    acc = float((logits.argmax(1) == yte).mean())
    os.makedirs(args.out, exist_ok=True)
    out = lambda name: os.path.join(args.out, name)  # noqa: E731
    torch.onnx.export(model, torch.from_numpy(xte[:1]), out("dsads_transformer.onnx"), opset_version=17,
                      input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)
    np.save(out("dsads_transformer_eval.npy"), xte)
    np.save(out("dsads_transformer_labels.npy"), yte.astype(np.int64))
    np.save(out("dsads_transformer_calib.npy"), xtr[:: max(1, len(xtr) // 256)][:256])
    np.save(out("dsads_transformer_logits.npy"), logits.astype(np.float32))
    summary = {"model": "dsads_transformer", "test_subjects": list(TEST_SUBJECTS), "test_samples": int(len(xte)),
               "test_accuracy": acc, "epochs": args.epochs, "seed": args.seed, "threads": args.threads,
               "parameters": sum(p.numel() for p in model.parameters()), "seconds": time.time() - t0,
               "torch": torch.__version__, "norm_mean": mean.tolist(), "norm_std": std.tolist()}
    with open(out("dsads_transformer.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({k: v for k, v in summary.items() if not k.startswith("norm_")}))


if __name__ == "__main__":
    main()
