# Store throughput: 100 MB of fp32 weights and of token ids, beside plain zlib-1 + SHA-256.
BENCHES += bench-store

.PHONY: bench-store
bench-store: build
	.build/$(CONFIG)/hone-bench store 3
