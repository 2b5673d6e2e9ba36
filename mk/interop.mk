# `make interop`: the demo's SFT model, exported, loads in Hugging Face transformers with the same
# logits; its tokenizer.json gives the same ids in HF tokenizers; and what transformers saves back
# loads into Hone with bit-identical logits (bench/interop_transformers.py). Then the real model:
# SmolLM2's GGUF tokenizes and generates greedily as transformers does with the same file, and the
# LoRA adapter and the prompt- and prefix-tuning embeddings pipelines/smollm2-lora.yaml trains load in HF PEFT
# with Hone's logits (bench/interop_smollm2.py).
.PHONY: interop interop-smollm2
INTEROP_DIR ?= /tmp/hone-interop

interop: build deps-torch interop-smollm2
	$(HONE) run $(PIPELINE) sft
	rm -rf $(INTEROP_DIR) && mkdir -p $(INTEROP_DIR)
	$(HONE) export sft.model $(INTEROP_DIR)/model
	$(BENCH_VENV)/bin/python bench/interop_transformers.py $(HONE) $(INTEROP_DIR)/model "What is 12 + 7? The answer is" $(INTEROP_DIR)

interop-smollm2: build deps-torch model
	$(HONE) run pipelines/smollm2-lora.yaml sft sft_prompt sft_prefix
	rm -rf $(INTEROP_DIR)-smollm2 && mkdir -p $(INTEROP_DIR)-smollm2
	$(HONE) export sft.adapter $(INTEROP_DIR)-smollm2/adapter --pipeline pipelines/smollm2-lora.yaml
	$(HONE) export sft.model $(INTEROP_DIR)-smollm2/model --pipeline pipelines/smollm2-lora.yaml
	$(HONE) export sft_prompt.adapter $(INTEROP_DIR)-smollm2/prompt-adapter --pipeline pipelines/smollm2-lora.yaml
	$(HONE) export sft_prompt.model $(INTEROP_DIR)-smollm2/prompt-model --pipeline pipelines/smollm2-lora.yaml
	$(HONE) export sft_prefix.adapter $(INTEROP_DIR)-smollm2/prefix-adapter --pipeline pipelines/smollm2-lora.yaml
	$(HONE) export sft_prefix.model $(INTEROP_DIR)-smollm2/prefix-model --pipeline pipelines/smollm2-lora.yaml
	$(BENCH_VENV)/bin/python bench/interop_smollm2.py $(HONE) $(MODEL_GGUF) $(INTEROP_DIR)-smollm2/adapter $(INTEROP_DIR)-smollm2/model \
	  $(INTEROP_DIR)-smollm2/prompt-adapter $(INTEROP_DIR)-smollm2/prompt-model $(INTEROP_DIR)-smollm2/prefix-adapter $(INTEROP_DIR)-smollm2/prefix-model
