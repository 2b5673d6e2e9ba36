# The training core's building blocks (more figures come with the full train step).
BENCHES += bench-tensor

.PHONY: bench-tensor
bench-tensor: build
	.build/$(CONFIG)/hone-bench matmul

# Row-slice sizes for Matmul's single-threaded sgemm tasks, compared on configs A's and B's products.
BENCHES += bench-slices
# A C compiler: the system's cc, else the clang that comes with Swift (a machine may have only that).
BENCH_CC ?= $(shell command -v cc || command -v clang)
.PHONY: bench-slices
bench-slices: deps-system
	@mkdir -p .build
	$(BENCH_CC) -O2 bench/matmul_slices.c -o .build/matmul_slices -lopenblas -lpthread
	.build/matmul_slices A 1
	.build/matmul_slices A 2
	.build/matmul_slices B 1
	.build/matmul_slices B 2
