#!/usr/bin/python3
"""PyTorch reference for DiffusionSharp's speed: the mnist-small UNet2DModel written out in plain PyTorch.

Runs with Debian 12's python3-torch (1.13) and its numpy; diffusers is not needed (and not importable here). The
network follows diffusers' UNet2DModel layer for layer with the same parameter names, so DiffusionSharp's
diffusion_pytorch_model.safetensors loads into it strictly (--weights) and a forward pass can be compared with ours
(--write-reference, then `diffuse model check --reference`).

Modes (JSON on stdout, one object per mode):
  train   timed training steps as diffusers' train_unconditional.py does them: t ~ U{0..999}, noise, add_noise,
          forward, MSE on epsilon, backward, clip_grad_norm_(1.0), AdamW, EMA update. Random images in [-1, 1]
          (seeded; speed does not depend on the pixels).
  sample  timed DDIM steps (50-step "leading" schedule, eta 0) under inference_mode: the network call and DDIM's
          update; images/s is given for a whole DDIM-50 run, batch / (50 x median seconds per step).
  check   the parameter count only (and, with --weights, a strict load).
"""

import argparse
import json
import math
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# mnist-small as DiffusionSharp's ModelPresets.MnistSmall defines it (diffusers' UNet2DModel arguments).
MNIST_SMALL = dict(
    sample_size=28,
    in_channels=1,
    out_channels=1,
    layers_per_block=2,
    block_out_channels=(32, 64, 128),
    down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    norm_num_groups=8,
    attention_head_dim=8,
    norm_eps=1e-5,
    flip_sin_to_cos=True,
    freq_shift=0,
)
# DiffusionSharp's count for the preset (`diffuse model info --model mnist-small`, bench train's "parameters").
DIFFUSIONSHARP_PARAMETERS = 4_023_233


def sinusoidal_embedding(timesteps, dim, flip_sin_to_cos, freq_shift, max_period=10000.0):
    """DDPM's sinusoidal timestep embedding (diffusers' get_timestep_embedding) for [B] timesteps."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32) / (half - freq_shift)
    angles = timesteps[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    return emb


class TimestepEmbedding(nn.Module):
    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, out_dim)
        self.linear_2 = nn.Linear(out_dim, out_dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    """GroupNorm, SiLU, 3x3 conv, + projected time embedding, GroupNorm, SiLU, 3x3 conv; 1x1 shortcut if widths differ."""

    def __init__(self, cin, cout, temb, groups, eps):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.dropout = nn.Dropout(0.0)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        skip = x if self.conv_shortcut is None else self.conv_shortcut(x)
        return skip + h


class Attention(nn.Module):
    """Spatial self-attention with a GroupNorm in front and a residual (diffusers' Attention as UNet2DModel uses it)."""

    def __init__(self, channels, head_dim, groups, eps):
        super().__init__()
        self.heads = channels // head_dim
        self.head_dim = head_dim
        self.group_norm = nn.GroupNorm(groups, channels, eps=eps)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels), nn.Dropout(0.0)])

    def forward(self, x):
        b, c, h, w = x.shape
        tokens = self.group_norm(x).view(b, c, h * w).transpose(1, 2)  # [B, HW, C]

        def heads(t):
            return t.view(b, h * w, self.heads, self.head_dim).transpose(1, 2).reshape(b * self.heads, h * w, self.head_dim)

        q, k, v = heads(self.to_q(tokens)), heads(self.to_k(tokens)), heads(self.to_v(tokens))
        # PyTorch 1.13 has no scaled_dot_product_attention; diffusers then runs its AttnProcessor: the scaled scores in
        # one baddbmm (beta 0), softmax, bmm. Same here.
        empty = torch.empty(b * self.heads, h * w, h * w, dtype=q.dtype)
        weights = torch.softmax(torch.baddbmm(empty, q, k.transpose(1, 2), beta=0, alpha=1 / math.sqrt(self.head_dim)), dim=-1)
        out = torch.bmm(weights, v).view(b, self.heads, h * w, self.head_dim).transpose(1, 2).reshape(b, h * w, c)
        out = self.to_out[1](self.to_out[0](out))
        return out.transpose(1, 2).reshape(b, c, h, w) + x


class Downsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownBlock(nn.Module):
    """DownBlock2D / AttnDownBlock2D: resnets (each followed by attention if any), then a strided conv; every output is a skip."""

    def __init__(self, cin, cout, temb, layers, attention, downsample, groups, eps, head_dim):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if i == 0 else cout, cout, temb, groups, eps) for i in range(layers)])
        if attention:
            self.attentions = nn.ModuleList([Attention(cout, head_dim, groups, eps) for _ in range(layers)])
        else:
            self.attentions = None
        self.downsamplers = nn.ModuleList([Downsample2D(cout)]) if downsample else None

    def forward(self, x, emb, skips):
        for i, resnet in enumerate(self.resnets):
            x = resnet(x, emb)
            if self.attentions is not None:
                x = self.attentions[i](x)
            skips.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            skips.append(x)
        return x


class UpBlock(nn.Module):
    """UpBlock2D / AttnUpBlock2D: layers+1 resnets over [x, skip] (each followed by attention if any), then nearest 2x + conv."""

    def __init__(self, cin, prev, cout, temb, layers, attention, upsample, groups, eps, head_dim):
        super().__init__()
        resnets = []
        for i in range(layers):
            skip_channels = cin if i == layers - 1 else cout
            resnet_in = prev if i == 0 else cout
            resnets.append(ResnetBlock2D(resnet_in + skip_channels, cout, temb, groups, eps))
        self.resnets = nn.ModuleList(resnets)
        if attention:
            self.attentions = nn.ModuleList([Attention(cout, head_dim, groups, eps) for _ in range(layers)])
        else:
            self.attentions = None
        self.upsamplers = nn.ModuleList([Upsample2D(cout)]) if upsample else None

    def forward(self, x, skips, emb):
        for i, resnet in enumerate(self.resnets):
            x = resnet(torch.cat([x, skips.pop()], dim=1), emb)
            if self.attentions is not None:
                x = self.attentions[i](x)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x


class MidBlock(nn.Module):
    def __init__(self, channels, temb, groups, eps, head_dim):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(channels, channels, temb, groups, eps) for _ in range(2)])
        self.attentions = nn.ModuleList([Attention(channels, head_dim, groups, eps)])

    def forward(self, x, emb):
        x = self.resnets[0](x, emb)
        x = self.attentions[0](x)
        return self.resnets[1](x, emb)


class UNet2D(nn.Module):
    """diffusers' UNet2DModel for the options mnist-small uses (positional time embedding, conv resampling, no classes)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        ch = cfg["block_out_channels"]
        groups, eps, hd = cfg["norm_num_groups"], cfg["norm_eps"], cfg["attention_head_dim"]
        temb = ch[0] * 4
        layers = cfg["layers_per_block"]
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        self.down_blocks = nn.ModuleList()
        out = ch[0]
        for i, kind in enumerate(cfg["down_block_types"]):
            cin, out = out, ch[i]
            self.down_blocks.append(DownBlock(cin, out, temb, layers, kind == "AttnDownBlock2D", i < len(ch) - 1, groups, eps, hd))
        self.mid_block = MidBlock(ch[-1], temb, groups, eps, hd)
        self.up_blocks = nn.ModuleList()
        rev = list(reversed(ch))
        out = rev[0]
        for i, kind in enumerate(cfg["up_block_types"]):
            prev, out = out, rev[i]
            cin = rev[min(i + 1, len(ch) - 1)]
            self.up_blocks.append(UpBlock(cin, prev, out, temb, layers + 1, kind == "AttnUpBlock2D", i < len(ch) - 1, groups, eps, hd))
        self.conv_norm_out = nn.GroupNorm(groups, ch[0], eps=eps)
        self.conv_out = nn.Conv2d(ch[0], cfg["out_channels"], 3, padding=1)

    def forward(self, sample, timesteps):
        if timesteps.dim() == 0:
            timesteps = timesteps.reshape(1)
        timesteps = timesteps.expand(sample.shape[0])
        t_emb = sinusoidal_embedding(timesteps, self.cfg["block_out_channels"][0], self.cfg["flip_sin_to_cos"], self.cfg["freq_shift"])
        emb = self.time_embedding(t_emb.to(sample.dtype))
        x = self.conv_in(sample)
        skips = [x]
        for block in self.down_blocks:
            x = block(x, emb, skips)
        x = self.mid_block(x, emb)
        for block in self.up_blocks:
            x = block(x, skips, emb)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


# --- safetensors without the safetensors package (not in Debian 12): 8-byte header length, JSON header, raw data ---

_DTYPES = {"F32": (np.float32, torch.float32), "F64": (np.float64, torch.float64), "I64": (np.int64, torch.int64),
           "F16": (np.float16, torch.float16), "I32": (np.int32, torch.int32)}


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        np_type, _ = _DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=np_type).reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    names = {t: n for n, (_, t) in _DTYPES.items()}
    for name, tensor in tensors.items():
        blob = tensor.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {"dtype": names[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    encoded = json.dumps(header).encode()
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


# --- the noise schedule DiffusionSharp trains with: linear betas 1e-4..0.02 over 1000 steps ---

def alphas_cumprod(steps=1000):
    betas = torch.linspace(1e-4, 0.02, steps, dtype=torch.float32)
    return torch.cumprod(1.0 - betas, dim=0)


def median_windows(seconds):
    return statistics.median(seconds), min(seconds), max(seconds)


def machine(threads):
    try:
        load = float(open("/proc/loadavg").read().split()[0])
    except OSError:
        load = None
    return {"threads": threads, "torch": torch.__version__, "cores": os.cpu_count(), "load_average": load,
            "cpu_capability": torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else None}


def build(seed):
    torch.manual_seed(seed)
    model = UNet2D(MNIST_SMALL)
    count = sum(p.numel() for p in model.parameters())
    assert count == DIFFUSIONSHARP_PARAMETERS, f"parameter count {count} differs from DiffusionSharp's {DIFFUSIONSHARP_PARAMETERS}"
    return model, count


def load_weights(model, folder):
    path = os.path.join(folder, "diffusion_pytorch_model.safetensors") if os.path.isdir(folder) else folder
    model.load_state_dict(read_safetensors(path), strict=True)


def train(model, args):
    batch = args.batch
    g = torch.Generator().manual_seed(args.seed)
    data = torch.rand(batch, 1, 28, 28, generator=g) * 2 - 1
    ac = alphas_cumprod()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=1e-6)
    ema = [p.detach().clone() for p in model.parameters()]
    model.train()

    def step():
        t = torch.randint(0, 1000, (batch,), generator=g)
        noise = torch.randn(data.shape, generator=g)
        a = ac[t].sqrt()[:, None, None, None]
        s = (1 - ac[t]).sqrt()[:, None, None, None]
        noisy = a * data + s * noise
        loss = F.mse_loss(model(noisy, t), noise)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            for e, p in zip(ema, model.parameters()):
                e.sub_((1 - 0.999) * (e - p))
        return loss.item()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    med, lo, hi = median_windows(times)
    return {"benchmark": "train", "data": "seeded uniform random images in [-1, 1]", "batch": batch,
            "images_per_second": batch / med, "ms_per_step": med * 1e3, "min_ms_per_step": lo * 1e3, "max_ms_per_step": hi * 1e3,
            "timed_steps": args.steps, "warmup_steps": args.warmup, "seconds_per_step": times}


def sample(model, args):
    batch = args.batch
    g = torch.Generator().manual_seed(args.seed)
    ac = alphas_cumprod()
    n = 50
    timesteps = list(range(0, 1000, 1000 // n))[::-1]  # "leading" spacing, steps_offset 0: 980, 960, ..., 0
    model.eval()
    times = []
    with torch.inference_mode():
        x = torch.randn(batch, 1, 28, 28, generator=g)
        for i in range(args.warmup + args.steps):
            t = timesteps[i % n]
            prev = t - 1000 // n
            start = time.perf_counter()
            eps = model(x, torch.tensor(float(t)))
            a_t = ac[t]
            a_prev = ac[prev] if prev >= 0 else torch.tensor(1.0)
            x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
            if i >= args.warmup:
                times.append(time.perf_counter() - start)
    med, lo, hi = median_windows(times)
    return {"benchmark": "sample", "sampler": "ddim", "steps_per_run": n, "batch": batch,
            "images_per_second": batch / (n * med), "seconds_per_network_call": med, "min_seconds_per_step": lo,
            "max_seconds_per_step": hi, "timed_steps": args.steps, "warmup_steps": args.warmup, "seconds_per_step": times}


def write_reference(model, path, seed):
    """An io.safetensors in the golden layout `diffuse model check` reads: sample, timestep, output."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 1, 28, 28, generator=g)
    t = torch.tensor([0.0, 250.0, 500.0, 999.0])
    model.eval()
    with torch.inference_mode():
        out = model(x, t)
    write_safetensors(path, {"sample": x, "timestep": t, "output": out})


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["train", "sample", "check"])
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1, as diffuse)")
    p.add_argument("--batch", type=int, help="default: 128 for train, 64 for sample")
    p.add_argument("--steps", type=int, default=3, help="timed steps (training steps or DDIM steps)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", help="a UNet2DModel folder (or .safetensors) of mnist-small weights to load strictly")
    p.add_argument("--write-reference", metavar="IO.SAFETENSORS",
                   help="with check: write sample, timestep and this network's output for `diffuse model check --reference`")
    args = p.parse_args()
    for name, value in (("--threads", args.threads), ("--steps", args.steps), ("--batch", args.batch or 1)):
        if value < 1:
            p.error(f"{name} must be at least 1 (got {value})")
    if args.warmup < 0:
        p.error(f"--warmup must be at least 0 (got {args.warmup})")
    torch.set_num_threads(args.threads)
    model, count = build(args.seed)
    if args.weights:
        load_weights(model, args.weights)
    if args.mode == "train":
        args.batch = args.batch or 128
        report = train(model, args)
    elif args.mode == "sample":
        args.batch = args.batch or 64
        report = sample(model, args)
    else:
        report = {"benchmark": "check", "weights": args.weights}
        if args.write_reference:
            write_reference(model, args.write_reference, args.seed)
            report["reference"] = args.write_reference
    report.update({"model": "mnist-small", "implementation": "bench/pytorch-reference/unet_ref.py",
                   "parameters": count, "diffusionsharp_parameters": DIFFUSIONSHARP_PARAMETERS, "machine": machine(args.threads)})
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
