# Runner overhead against DVC on the same 100-stage chain (../shared/bench/dvc_overhead.sh).
BENCHES += bench-runner
BENCH_VENV ?= .venv-bench

.PHONY: bench-runner deps-bench
bench-runner: build
	PATH="$(abspath $(BENCH_VENV))/bin:$$PATH" bench/runner_overhead.sh $(HONE) 100

# DVC and the tokenizer corpus (vim-runtime) for the side-by-side figures (not needed by the tests).
deps-bench: $(BENCH_VENV)/.ok
$(BENCH_VENV)/.ok:
	@command -v bc >/dev/null || apt-get install -y -qq bc
	@[ -d /usr/share/vim/vim90/doc ] || apt-get install -y -qq vim-runtime
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q dvc
	touch $@
