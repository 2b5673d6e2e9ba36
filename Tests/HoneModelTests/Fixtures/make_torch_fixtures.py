#!/usr/bin/env python3
"""The PyTorch oracle for Hone's decoder (Tests/HoneModelTests/TorchOracleTests.swift).

Builds the same tiny Llama in plain PyTorch, written independently of Hone: HF tensor names,
rotate-half RoPE, grouped-query attention, RMSNorm, SwiGLU, tied or untied LM head, masked
cross-entropy (ignore_index). Writes, per variant, one safetensors file with the initial
weights, the batch, the logits, the loss, every gradient, and the weights after 10 AdamW steps
(betas 0.9/0.95, weight decay 0.1 on matrices only, gradient clipping at norm 1.0, lr 1e-2).

    .venv-bench/bin/python Tests/HoneModelTests/Fixtures/make_torch_fixtures.py

The fixtures are committed: Hone's test needs no torch. Rerun only when the oracle changes.
"""
import json, math, os
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
CFG = dict(vocab=37, d=32, layers=2, heads=4, kv_heads=2, ffn=48, eps=1e-5, theta=10000.0)
B, T, STEPS = 2, 8, 10


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(p, tokens, tied):
    c = CFG
    hd = c["d"] // c["heads"]
    inv = 1.0 / (c["theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    ang = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    cos = torch.cat((ang.cos(), ang.cos()), -1).float()
    sin = torch.cat((ang.sin(), ang.sin()), -1).float()
    x = p["model.embed_tokens.weight"][tokens]
    for l in range(c["layers"]):
        q_ = f"model.layers.{l}."
        h = rms_norm(x, p[q_ + "input_layernorm.weight"], c["eps"])
        q = (h @ p[q_ + "self_attn.q_proj.weight"].T).view(B, T, c["heads"], hd).transpose(1, 2)
        k = (h @ p[q_ + "self_attn.k_proj.weight"].T).view(B, T, c["kv_heads"], hd).transpose(1, 2)
        v = (h @ p[q_ + "self_attn.v_proj.weight"].T).view(B, T, c["kv_heads"], hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = c["heads"] // c["kv_heads"]
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, c["heads"] * hd)
        x = x + a @ p[q_ + "self_attn.o_proj.weight"].T
        h = rms_norm(x, p[q_ + "post_attention_layernorm.weight"], c["eps"])
        g = h @ p[q_ + "mlp.gate_proj.weight"].T
        u = h @ p[q_ + "mlp.up_proj.weight"].T
        x = x + (F.silu(g) * u) @ p[q_ + "mlp.down_proj.weight"].T
    x = rms_norm(x, p["model.norm.weight"], c["eps"])
    head = p["model.embed_tokens.weight"] if tied else p["lm_head.weight"]
    return x @ head.T


def names(tied):
    c = CFG
    hd = c["d"] // c["heads"]
    out = [("model.embed_tokens.weight", (c["vocab"], c["d"]))]
    for l in range(c["layers"]):
        q_ = f"model.layers.{l}."
        out += [(q_ + "input_layernorm.weight", (c["d"],)),
                (q_ + "self_attn.q_proj.weight", (c["heads"] * hd, c["d"])),
                (q_ + "self_attn.k_proj.weight", (c["kv_heads"] * hd, c["d"])),
                (q_ + "self_attn.v_proj.weight", (c["kv_heads"] * hd, c["d"])),
                (q_ + "self_attn.o_proj.weight", (c["d"], c["heads"] * hd)),
                (q_ + "post_attention_layernorm.weight", (c["d"],)),
                (q_ + "mlp.gate_proj.weight", (c["ffn"], c["d"])),
                (q_ + "mlp.up_proj.weight", (c["ffn"], c["d"])),
                (q_ + "mlp.down_proj.weight", (c["d"], c["ffn"]))]
    out.append(("model.norm.weight", (c["d"],)))
    if not tied:
        out.append(("lm_head.weight", (c["vocab"], c["d"])))
    return out


def variant(tied):
    g = torch.Generator().manual_seed(1234 + tied)
    p = {}
    for n, shape in names(tied):
        if len(shape) == 1:
            p[n] = (1 + 0.1 * torch.randn(shape, generator=g)).requires_grad_()
        else:
            p[n] = (0.2 * torch.randn(shape, generator=g)).requires_grad_()
    tokens = torch.randint(0, CFG["vocab"], (B, T), generator=g)
    targets = torch.randint(0, CFG["vocab"], (B, T), generator=g)
    mask = (torch.rand((B, T), generator=g) > 0.25)
    out = {"init/" + n: t.detach().clone() for n, t in p.items()}

    def loss_of():
        logits = forward(p, tokens, tied)
        tgt = torch.where(mask, targets, torch.full_like(targets, -100))
        return logits, F.cross_entropy(logits.reshape(-1, CFG["vocab"]), tgt.reshape(-1), ignore_index=-100)

    logits, loss = loss_of()
    loss.backward()
    out["logits"] = logits.detach().reshape(B * T, CFG["vocab"]).clone()
    out["loss"] = loss.detach().reshape(1).clone()
    for n, t in p.items():
        out["grad/" + n] = t.grad.detach().clone()
    decay = [t for n, t in p.items() if t.dim() >= 2]
    other = [t for n, t in p.items() if t.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.95), eps=1e-8, foreach=False)
    for _ in range(STEPS):
        opt.zero_grad()
        _, loss = loss_of()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(p.values()), 1.0)
        opt.step()
    for n, t in p.items():
        out["after/" + n] = t.detach().clone()
    out["tokens"] = tokens.reshape(-1).float()
    out["targets"] = targets.reshape(-1).float()
    out["mask"] = mask.reshape(-1).float()
    name = "torch_tied.safetensors" if tied else "torch_untied.safetensors"
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(HERE, name),
              metadata={"config": json.dumps(CFG), "torch": torch.__version__, "batch": f"{B}x{T}", "steps": str(STEPS)})
    print(name, "loss", float(out["loss"]))


if __name__ == "__main__":
    torch.manual_seed(0)
    variant(False)
    variant(True)
