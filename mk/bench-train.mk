# The training step beside PyTorch (../shared/bench/torch_llama_step.py, configs A and B, 1 and 2
# threads) in one run, with the ratio; PyTorch runs when $(BENCH_VENV) has torch (make deps-torch).
# BENCH_ROUNDS rounds of PyTorch then Hone for each (the figure is the median of the rounds' ratios).
BENCHES += bench-train
BENCH_ROUNDS ?= 3

.PHONY: bench-train deps-torch
bench-train: build
	python3 bench/train_vs_torch.py .build/$(CONFIG)/hone-bench $(BENCH_VENV)/bin/python $(SHARED_BENCH) $(BENCH_ROUNDS)

# torch and transformers: large, so only for `make bench` and `make interop`, never for the tests.
deps-torch: $(BENCH_VENV)/.torch
$(BENCH_VENV)/.torch:
	@[ -x $(BENCH_VENV)/bin/python ] || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q torch transformers peft gguf safetensors numpy tokenizers
	touch $@
