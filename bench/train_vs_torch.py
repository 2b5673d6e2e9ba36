#!/usr/bin/env python3
"""`make bench-train`: Hone's training step beside PyTorch's on the two configurations of
../shared/bench/torch_llama_step.py, in one run, with the ratio.

    train_vs_torch.py HONE_BENCH TORCH_PYTHON SHARED_BENCH_DIR

For each config (A, B) and thread count (1, 2): PyTorch first (when TORCH_PYTHON can import
torch), then Hone, each its own process (so peak RSS is per run). Prints every JSON line the two
print, then one line with the ratios of median tokens/s.
"""
import json, subprocess, sys

hone_bench, torch_python, shared = sys.argv[1:4]
RUNS = {"A": (10, 2), "B": (4, 1)}  # (timed steps, warmup steps)


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return None
    line = out.stdout.strip().splitlines()[-1]
    print(line, flush=True)
    return json.loads(line)


has_torch = subprocess.run([torch_python, "-c", "import torch"], capture_output=True).returncode == 0
if not has_torch:
    print(json.dumps({"bench": "train_vs_torch", "skipped_torch": f"{torch_python} cannot import torch (make deps-torch)"}))
for config, (steps, warmup) in RUNS.items():
    for threads in (1, 2):
        ref = None
        if has_torch:
            ref = run([torch_python, f"{shared}/torch_llama_step.py", "--config", config, "--threads", str(threads),
                       "--steps", str(steps), "--warmup", str(warmup)])
        hone = run([hone_bench, "train", config, str(threads), str(steps), str(warmup)])
        if hone and ref:
            print(json.dumps({"bench": "train_ratio", "config": config, "threads": threads,
                              "hone_tok_s": hone["train_tok_s_med"], "torch_tok_s": ref["train_tok_s_med"],
                              "hone_over_torch": round(hone["train_tok_s_med"] / ref["train_tok_s_med"], 3),
                              "hone_rss_mb": hone["rss_mb_peak"], "torch_rss_mb": ref["rss_mb_peak"],
                              "hone_step_vs_sgemm": hone["step_vs_sgemm"]}), flush=True)
