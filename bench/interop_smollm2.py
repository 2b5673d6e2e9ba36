#!/usr/bin/env python3
"""`make interop`, the real-model half: SmolLM2-135M-Instruct's GGUF in Hone and in Hugging Face
`transformers` (which loads the same file with `gguf_file=`), and a LoRA adapter Hone trained, in
HF PEFT.

    interop_smollm2.py HONE_BIN GGUF ADAPTER_DIR MERGED_DIR [PROMPT_ADAPTER PROMPT_MODEL [PREFIX_ADAPTER PREFIX_MODEL]]

1. Tokenizer: a varied corpus encodes to the same ids in Hone (the GGUF's tokenizer.ggml.* and
   its pre-tokenizer) and in transformers' tokenizer for the same file.
2. Greedy generation: for a few chat prompts, the same prompt ids (the chat template) and the
   same first 20 new tokens, token for token.
3. PEFT: `PeftModel.from_pretrained(base, ADAPTER_DIR)` over the GGUF base gives the logits of
   the merged model Hone wrote (MERGED_DIR), and its `merge_and_unload()` the same weights.
4. Prompt and prefix tuning: the PROMPT_TUNING and PREFIX_TUNING adapters Hone wrote give, over
   the same base in PEFT, the logits of Hone's prompt- and prefix-tuned models on the real tokens.

Prints one JSON line per check and a summary; exits 1 when a check fails.
"""
import json, os, subprocess, sys, tempfile

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

hone, gguf, adapter_dir, merged_dir = sys.argv[1:5]
virtual_dirs = [sys.argv[i:i + 2] for i in (5, 7) if len(sys.argv) >= i + 2]
gguf_dir, gguf_file = os.path.dirname(os.path.abspath(gguf)), os.path.basename(gguf)
work = tempfile.mkdtemp(prefix="hone-interop-smollm2-")
results = []


def report(check, ok, **facts):
    results.append(ok)
    print(json.dumps({"bench": "interop_smollm2", "check": check, "ok": ok, **facts}, ensure_ascii=False), flush=True)


def hone_generate(model, prompt, *flags):
    out = subprocess.run([hone, "generate", model, prompt, "--json", *flags], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
base = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file, torch_dtype=torch.float32)
base.eval()

# 1. The tokenizer on text of many kinds: prose, code, numbers, whitespace runs, accents, CJK, emoji.
corpus = [
    "The quick brown fox jumps over the lazy dog.",
    "def f(x):\n    return x ** 2  # square\n",
    "Prices: $3.50, 1,000,000 and 3.14159e-10; 2026-11-30T04:17:41Z",
    "   leading spaces,\ttabs\t and trailing   ",
    "Ünïcödé façade naïve café — «quotes» ‘single’",
    "日本語のテキストと中文文本",
    "emoji 🙂🚀 and ZWJ 👩‍💻 sequences",
    "can't won't I'm you're they'll we've",
    "UPPER lower MiXeD 123abc abc123",
    "<|im_start|> is special only in chat",
    "line one\n\nline three\r\nwindows line",
    "a" * 40 + " " + "ab" * 20,
]
mismatches = []
for text in corpus:
    ids = hone_generate(gguf, text, "--template", "none", "--max-tokens", "1")["prompt_ids"]
    ref = tok(text, add_special_tokens=False)["input_ids"]
    if ids != ref:
        mismatches.append({"text": text, "hone": ids, "transformers": ref})
report("tokenizer_ids_equal", not mismatches, texts=len(corpus), mismatches=mismatches[:3])

# 2. Greedy generation, 20 new tokens, with the chat template.
for prompt in ["What is the capital of France?", "Name three colours.", "Write a haiku about the sea."]:
    hone_out = hone_generate(gguf, prompt, "--max-tokens", "20")
    messages = [{"role": "user", "content": prompt}]
    ref_prompt = tok.apply_chat_template(messages, add_generation_prompt=True) if tok.chat_template else None
    if ref_prompt is not None and hasattr(ref_prompt, "keys"):  # transformers 5 returns a BatchEncoding
        ref_prompt = list(ref_prompt["input_ids"])
    with torch.no_grad():
        generated = base.generate(torch.tensor([hone_out["prompt_ids"]]), max_new_tokens=20, do_sample=False)[0]
    ref_ids = generated[len(hone_out["prompt_ids"]):].tolist()
    n = min(20, len(ref_ids), len(hone_out["ids"]))
    same = hone_out["ids"][:n] == ref_ids[:n] and n >= min(20, len(ref_ids))
    # Hone stops at the chat template's end token; transformers' generation config may not, so
    # the token after Hone's answer must be that stop token.
    stops = {tok.convert_tokens_to_ids("<|im_end|>"), tok.eos_token_id}
    if len(hone_out["ids"]) < 20 and hone_out["ids"] == ref_ids[:len(hone_out["ids"])] and len(ref_ids) > len(hone_out["ids"]):
        same = ref_ids[len(hone_out["ids"])] in stops
    report("greedy_20_tokens", same and (ref_prompt is None or ref_prompt == hone_out["prompt_ids"]), prompt=prompt,
           prompt_ids_equal_chat_template=None if ref_prompt is None else ref_prompt == hone_out["prompt_ids"],
           compared_tokens=n, hone=hone_out["text"], transformers=tok.decode(ref_ids[:n]))

# 3. The adapter in PEFT over the same base: logits of Hone's merged model, and the merged weights.
prompt = "Name the capital of Peru."
logits_file = os.path.join(work, "merged_logits.safetensors")
subprocess.run([hone, "generate", merged_dir, prompt, "--template", "none", "--max-tokens", "1", "--logits", logits_file],
               check=True, capture_output=True)
t = load_file(logits_file)
ids, hone_logits = t["ids"].long(), t["logits"]
peft = PeftModel.from_pretrained(base, adapter_dir)
peft.eval()
with torch.no_grad():
    ref = peft(ids[None]).logits[0]
rel = float((ref - hone_logits).abs().max() / ref.abs().max())
report("peft_adapter_logits", rel < 1e-4, logits_max_rel_diff=rel, tokens=len(ids))
merged = peft.merge_and_unload().state_dict()
hone_weights = load_file(os.path.join(merged_dir, "model.safetensors"))
worst = max(float((merged[k] - hone_weights[k]).abs().max()) for k in hone_weights if k in merged)
report("peft_merge_equals_hone_merge", worst < 1e-5, max_abs_diff=worst)

# 4. Prompt and prefix tuning: PEFT puts the virtual tokens before the input (prompt) or their keys
# and values in every layer's cache (prefix), at positions 0..<P, as Hone does.
for prompt_adapter, prompt_model in virtual_dirs:
    kind = json.load(open(os.path.join(prompt_adapter, "adapter_config.json")))["peft_type"].lower()
    logits_file = os.path.join(work, f"{kind}_logits.safetensors")
    subprocess.run([hone, "generate", prompt_model, prompt, "--template", "none", "--max-tokens", "1", "--logits", logits_file],
                   check=True, capture_output=True)
    t = load_file(logits_file)
    ids, hone_logits = t["ids"].long(), t["logits"]
    fresh = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file, torch_dtype=torch.float32)
    tuned = PeftModel.from_pretrained(fresh, prompt_adapter)
    tuned.eval()
    with torch.no_grad():
        ref = tuned(input_ids=ids[None]).logits[0, -len(ids):]
    rel = float((ref - hone_logits).abs().max() / ref.abs().max())
    report(f"peft_{kind}_logits", rel < 1e-4, logits_max_rel_diff=rel, tokens=len(ids))

ok = all(results)
print(json.dumps({"bench": "interop_smollm2", "transformers": __import__("transformers").__version__,
                  "peft": __import__("peft").__version__, "torch": torch.__version__, "checks": len(results), "ok": ok}))
sys.exit(0 if ok else 1)
