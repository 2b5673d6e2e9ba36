#!/usr/bin/env python3
"""`make bench-smollm2`: fine-tuning SmolLM2-135M-Instruct beside transformers + PEFT in one run
(../shared/bench/torch_smollm2_lora.py defines the configurations):

    smollm2_vs_torch.py HONE_BENCH TORCH_PYTHON SHARED_BENCH_DIR GGUF

- LoRA, rank 8 on all seven projections, T256 B4, 2 threads: PyTorch, then Hone (fp32 base),
  then Hone's QLoRA (the file's Q4_1 blocks as the frozen base);
- full fine-tuning, T256 B1, 2 threads: PyTorch, then Hone.

Each run is its own process, so peak RSS is per run. Prints every JSON line, then one line per
comparison with the ratios (tokens/s: Hone over PyTorch; memory: Hone's peak over PyTorch's).
"""
import json, os, subprocess, sys

hone_bench, torch_python, shared, gguf = sys.argv[1:5]


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(json.dumps({"bench": "smollm2", "failed": " ".join(cmd), "stderr": out.stderr[-400:]}), flush=True)
        return None
    line = out.stdout.strip().splitlines()[-1]
    print(line, flush=True)
    return json.loads(line)


if not os.path.exists(gguf):
    print(json.dumps({"bench": "smollm2", "skipped": f"{gguf} is missing (make model)"}))
    sys.exit(0)
has_torch = subprocess.run([torch_python, "-c", "import torch, transformers, peft, gguf"], capture_output=True).returncode == 0
if not has_torch:
    print(json.dumps({"bench": "smollm2", "skipped_torch": f"{torch_python} cannot import torch, transformers, peft and gguf (make deps-torch)"}))

gguf_dir, gguf_file = os.path.dirname(os.path.abspath(gguf)), os.path.basename(gguf)
for name, batch, torch_flags, methods in [("lora", 4, [], ["lora", "qlora"]), ("full", 1, ["--full"], ["full"])]:
    ref = None
    if has_torch:
        ref = run([torch_python, f"{shared}/torch_smollm2_lora.py", gguf_dir, "--file", gguf_file, "--threads", "2",
                   "--seq", "256", "--batch", str(batch), "--rank", "8", "--steps", "4", "--warmup", "1"] + torch_flags)
    for method in methods:
        hone = run([hone_bench, "smollm2", method, gguf, "2", "256", str(batch), "8", "4", "1"])
        if hone and ref:
            print(json.dumps({"bench": "smollm2_ratio", "method": method, "batch": batch,
                              "hone_tok_s": hone["train_tok_s_med"], "torch_tok_s": ref["train_tok_s_med"],
                              "hone_over_torch": round(hone["train_tok_s_med"] / ref["train_tok_s_med"], 3),
                              "hone_rss_mb": hone["rss_mb_peak"], "torch_rss_mb": ref["rss_mb_peak"],
                              "rss_hone_over_torch": round(hone["rss_mb_peak"] / ref["rss_mb_peak"], 3)}), flush=True)
