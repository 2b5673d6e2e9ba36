# `make interop`: the demo's SFT model, exported, loads in Hugging Face transformers with the same
# logits; its tokenizer.json gives the same ids in HF tokenizers; and what transformers saves back
# loads into Hone with bit-identical logits (bench/interop_transformers.py).
.PHONY: interop
INTEROP_DIR ?= /tmp/hone-interop

interop: build deps-torch
	$(HONE) run $(PIPELINE) sft
	rm -rf $(INTEROP_DIR) && mkdir -p $(INTEROP_DIR)
	$(HONE) export sft.model $(INTEROP_DIR)/model
	$(BENCH_VENV)/bin/python bench/interop_transformers.py $(HONE) $(INTEROP_DIR)/model "What is 12 + 7? The answer is" $(INTEROP_DIR)
