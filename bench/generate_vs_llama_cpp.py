#!/usr/bin/env python3
"""`make bench-generate`: inference on SmolLM2-135M-Instruct beside llama.cpp in one run.

    generate_vs_llama_cpp.py HONE_BENCH GGUF LLAMA_BENCH [ROUNDS]

Prefill of 256 tokens and greedy generation of 64, 2 threads: llama-bench (-p 256 -n 64 -r 3)
and `hone-bench generate` (median of 3 after a warm-up) take turns ROUNDS times (default 3),
so both see the same state of a shared machine; then Hone alone at 1 thread. Prints every JSON
line, then the medians over the rounds and the ratios (Hone over llama.cpp). LLAMA_BENCH may be
missing (../shared/bench/llama_cpp_build.sh builds it; `make llama-cpp`): Hone then runs alone.
"""
import json, os, statistics, subprocess, sys

hone_bench, gguf, llama_bench = sys.argv[1:4]
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(json.dumps({"bench": "generate", "failed": " ".join(cmd), "stderr": out.stderr[-400:]}), flush=True)
        return None
    return out.stdout


def hone(threads):
    out = run([hone_bench, "generate", gguf, str(threads), "256", "64", "3"])
    if out is None:
        return None
    line = out.strip().splitlines()[-1]
    print(line, flush=True)
    return json.loads(line)


def llama():
    out = run([llama_bench, "-m", gguf, "-t", "2", "-p", "256", "-n", "64", "-r", "3", "-o", "json"])
    if out is None:
        return None
    rows = json.loads(out)
    line = {"bench": "llama_cpp_smollm2", "threads": 2,
            "prefill_tok_s": round(next(r["avg_ts"] for r in rows if r["n_prompt"] == 256), 1),
            "generate_tok_s": round(next(r["avg_ts"] for r in rows if r["n_gen"] == 64), 1)}
    print(json.dumps(line, sort_keys=True), flush=True)
    return line


if not os.path.exists(gguf):
    print(json.dumps({"bench": "generate", "skipped": f"{gguf} is missing (make model)"}))
    sys.exit(0)
have_llama = os.path.exists(llama_bench)
if not have_llama:
    print(json.dumps({"bench": "generate", "skipped_llama_cpp": f"{llama_bench} is missing (make llama-cpp builds it, ~10 minutes)"}))
ours, theirs = [], []
for _ in range(rounds):
    if have_llama and (r := llama()):
        theirs.append(r)
    if r := hone(2):
        ours.append(r)
hone(1)
if ours and theirs:
    line = {"bench": "generate_ratio", "threads": 2, "rounds": rounds}
    for key in ["prefill_tok_s", "generate_tok_s"]:
        h, l = statistics.median(x[key] for x in ours), statistics.median(x[key] for x in theirs)
        line[f"hone_{key}"], line[f"llama_cpp_{key}"], line[f"{key.split('_')[0]}_hone_over_llama_cpp"] = h, l, round(h / l, 3)
    print(json.dumps(line, sort_keys=True), flush=True)
