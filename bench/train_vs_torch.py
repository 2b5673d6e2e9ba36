#!/usr/bin/env python3
"""`make bench-train`: Hone's training step beside PyTorch's on the two configurations of
../shared/bench/torch_llama_step.py, in one run, with the ratio.

    train_vs_torch.py HONE_BENCH TORCH_PYTHON SHARED_BENCH_DIR [ROUNDS]

For each config (A, B) and thread count (1, 2), ROUNDS rounds (default 3) of PyTorch then Hone,
each its own process (so peak RSS is per run). This machine's speed drifts by 10-30% over tens
of seconds (other work on the same host, it seems), and a single pair of runs put the same code
anywhere between 1.13x and 1.49x on A at 2 threads. A round's two runs are next to each other in time, so
their ratio cancels the drift they share, and the median of the rounds' ratios keeps one slow
stretch from deciding the figure. (The ratio of each side's median over the rounds would pair
runs from different rounds: 1.11x once when the rounds gave 1.29, 1.24 and 1.11.)

Prints every JSON line the two print, one `train_ratio_round` line per round, then a
`train_ratio` line per config and thread count: the median of the rounds' ratios, the rounds'
ratios, and each side's median tokens/s over the rounds.
"""
import json, statistics, subprocess, sys

hone_bench, torch_python, shared = sys.argv[1:4]
ROUNDS = int(sys.argv[4]) if len(sys.argv) > 4 else 3
RUNS = {"A": (8, 2), "B": (3, 1)}  # (timed steps, warmup steps) per run


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(json.dumps({"bench": "train_vs_torch", "failed": cmd, "stderr": out.stderr[-2000:]}), flush=True)
        return None
    line = out.stdout.strip().splitlines()[-1]
    print(line, flush=True)
    return json.loads(line)


has_torch = subprocess.run([torch_python, "-c", "import torch"], capture_output=True).returncode == 0
if not has_torch:
    print(json.dumps({"bench": "train_vs_torch", "skipped_torch": f"{torch_python} cannot import torch (make deps-torch)"}))
for config, (steps, warmup) in RUNS.items():
    for threads in (1, 2):
        hones, pairs = [], []
        for r in range(ROUNDS):
            ref = None
            if has_torch:
                ref = run([torch_python, f"{shared}/torch_llama_step.py", "--config", config, "--threads", str(threads),
                           "--steps", str(steps), "--warmup", str(warmup)])
            hone = run([hone_bench, "train", config, str(threads), str(steps), str(warmup)])
            if hone:
                hones.append(hone)
            if hone and ref:
                pairs.append((hone, ref))
                print(json.dumps({"bench": "train_ratio_round", "config": config, "threads": threads, "round": r + 1,
                                  "hone_tok_s": hone["train_tok_s_med"], "torch_tok_s": ref["train_tok_s_med"],
                                  "hone_over_torch": round(hone["train_tok_s_med"] / ref["train_tok_s_med"], 3)}), flush=True)
        if not hones:
            continue
        med = lambda runs, key: statistics.median(x[key] for x in runs)
        line = {"bench": "train_ratio", "config": config, "threads": threads, "rounds": len(hones),
                "hone_tok_s": round(med(hones, "train_tok_s_med"), 1),
                "hone_step_vs_sgemm": round(med(hones, "step_vs_sgemm"), 3),
                "hone_step_vs_sgemm_paired": round(med(hones, "step_vs_sgemm_paired"), 3),
                "hone_rss_mb": max(x["rss_mb_peak"] for x in hones)}
        if pairs:
            refs = [t for _, t in pairs]
            ratios = [h["train_tok_s_med"] / t["train_tok_s_med"] for h, t in pairs]
            line.update({"torch_tok_s": round(med(refs, "train_tok_s_med"), 1),
                         "hone_over_torch": round(statistics.median(ratios), 3),
                         "round_ratios": [round(r, 3) for r in ratios],
                         "torch_rss_mb": max(x["rss_mb_peak"] for x in refs)})
        print(json.dumps(line), flush=True)
