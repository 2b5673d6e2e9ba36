# Fine-tuning the reference real model beside transformers + PEFT (../shared/bench/torch_smollm2_lora.py):
# LoRA and QLoRA at T256 B4, full fine-tuning at T256 B1, 2 threads; PyTorch runs when $(BENCH_VENV)
# has torch, transformers, peft and gguf (make deps-torch).
BENCHES += bench-smollm2

.PHONY: bench-smollm2
bench-smollm2: build model
	python3 bench/smollm2_vs_torch.py .build/$(CONFIG)/hone-bench $(BENCH_VENV)/bin/python $(SHARED_BENCH) $(MODEL_GGUF)

# Prefill of 256 tokens and greedy generation of 64 on SmolLM2, at 1 and 2 threads (the issue's
# llama.cpp figures here: 289 and 135 tok/s).
BENCHES += bench-generate
.PHONY: bench-generate
bench-generate: build model
	.build/$(CONFIG)/hone-bench generate $(MODEL_GGUF) 1
	.build/$(CONFIG)/hone-bench generate $(MODEL_GGUF) 2
