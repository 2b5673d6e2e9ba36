# BPE training and encoding beside HF `tokenizers` on the corpus ../shared/bench/hf_bpe.py builds
# (Vim help + licenses, 9.76 MB): HF first (it writes /tmp/hf_bpe_{4096,8192}.json), then Hone,
# which also says whether its merges equal HF's.
BENCHES += bench-tokenizer
SHARED_BENCH ?= ../shared/bench

.PHONY: bench-tokenizer
bench-tokenizer: build
	@if [ -x $(PY) ] && $(PY) -c "import tokenizers" 2>/dev/null && [ -d /usr/share/vim/vim90/doc ] && [ -f $(SHARED_BENCH)/hf_bpe.py ]; then \
	  $(PY) $(SHARED_BENCH)/hf_bpe.py --reps 1 && \
	  .build/$(CONFIG)/hone-bench tokenizer /tmp/bpe_corpus.txt /tmp/hf_bpe_4096.json /tmp/hf_bpe_8192.json; \
	else \
	  echo '{"bench":"bpe","skipped":"needs vim-runtime (make deps-bench), tokenizers in $(PY) (make deps) and $(SHARED_BENCH)/hf_bpe.py"}'; \
	fi
