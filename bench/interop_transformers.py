#!/usr/bin/env python3
"""`make interop`: a model Hone exported loads in Hugging Face `transformers` and gives the
same logits; the tokenizer.json beside it gives the same ids in HF `tokenizers`; and the files
transformers saves back load into Hone with the same logits.

    interop_transformers.py HONE_BIN MODEL_DIR PROMPT WORKDIR

Prints one JSON line; exits 1 when a check fails.
"""
import json, os, subprocess, sys

import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import LlamaForCausalLM

hone, model_dir, prompt, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)


def hone_logits(folder, name):
    out = os.path.join(work, name)
    subprocess.run([hone, "generate", folder, prompt, "--template", "none", "--max-tokens", "1", "--logits", out],
                   check=True, capture_output=True)
    t = load_file(out)
    return t["ids"].long().tolist(), t["logits"]


ids, logits = hone_logits(model_dir, "hone_logits.safetensors")
hf_ids = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json")).encode(prompt).ids
model = LlamaForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
model.eval()
with torch.no_grad():
    ref = model(torch.tensor([ids])).logits[0]
rel = float((ref - logits).abs().max() / ref.abs().max())

resaved = os.path.join(work, "resaved")
model.save_pretrained(resaved, safe_serialization=True)
Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json")).save(os.path.join(resaved, "tokenizer.json"))
ids2, logits2 = hone_logits(resaved, "hone_logits_resaved.safetensors")
roundtrip = ids2 == ids and bool(torch.equal(logits2, logits))

ok = hf_ids == ids and rel < 1e-4 and roundtrip
print(json.dumps({"bench": "interop", "transformers": __import__("transformers").__version__, "torch": torch.__version__,
                  "tokens": len(ids), "ids_equal_hf_tokenizers": hf_ids == ids, "logits_max_rel_diff": rel,
                  "transformers_resaved_loads_in_hone_bit_identical": roundtrip, "ok": ok}))
sys.exit(0 if ok else 1)
