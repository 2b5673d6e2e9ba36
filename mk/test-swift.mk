# The Swift test suites, built in release (numeric code is 100x slower in debug), on the OpenBLAS
# kernel family hone runs here (`hone blas-core`): the test process loads OpenBLAS itself, and
# where OpenBLAS fell back to Prescott it would otherwise test other kernels than hone runs.
TESTS += test-swift

.PHONY: test-swift
test-swift: build
	OPENBLAS_CORETYPE=$$($(HONE) blas-core) HONE_BIN=$(abspath $(HONE)) HONE_PYTHON=$(abspath $(PY)) $(SWIFT) test -c $(CONFIG) --skip-build
