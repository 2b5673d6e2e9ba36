# The training core's building blocks (more figures come with the full train step).
BENCHES += bench-tensor

.PHONY: bench-tensor
bench-tensor: build
	.build/$(CONFIG)/hone-bench matmul
