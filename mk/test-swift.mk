# The Swift test suites, built in release (numeric code is 100x slower in debug), on the OpenBLAS
# kernel family hone runs here (`hone blas-core`): the test process loads OpenBLAS itself, and
# where OpenBLAS fell back to Prescott it would otherwise test other kernels than hone runs.
TESTS += test-swift

.PHONY: test-swift
test-swift: build
	core=$$($(HONE) blas-core) && [ -n "$$core" ] || { echo "test-swift: hone blas-core failed"; exit 1; }; \
	OPENBLAS_CORETYPE=$$core HONE_BIN=$(abspath $(HONE)) HONE_PYTHON=$(abspath $(PY)) $(SWIFT) test -c $(CONFIG) --skip-build

# The golden tests' training digests are pinned for OpenBLAS's Zen kernels, which give the same
# bits on any CPU with AVX2 and FMA (an Intel Xeon reproduced them): where hone runs another
# family, those suites run again on Zen's, so every such machine checks the pins.
TESTS += test-golden-zen
GOLDEN_SUITES := GoldenTrainingKindTests|GoldenTuningTests|GoldenEvaluateTests|RLHFKindTests

.PHONY: test-golden-zen
test-golden-zen: build
	@core=$$($(HONE) blas-core) && [ -n "$$core" ] || { echo "test-golden-zen: hone blas-core failed"; exit 1; }; \
	if [ "$$core" = Zen ]; then echo "test-golden-zen: hone runs Zen's kernels here; test-swift checked the pins"; \
	elif ! grep -qw avx2 /proc/cpuinfo || ! grep -qw fma /proc/cpuinfo; then echo "test-golden-zen: skipped, this CPU has no AVX2 with FMA for Zen's kernels"; \
	else OPENBLAS_CORETYPE=Zen HONE_BIN=$(abspath $(HONE)) $(SWIFT) test -c $(CONFIG) --skip-build --filter '$(GOLDEN_SUITES)' \
	       > .build/test-golden-zen.log 2>&1; rc=$$?; cat .build/test-golden-zen.log; [ $$rc = 0 ] || exit $$rc; \
	  grep -q "Test run with [1-9][0-9]* tests" .build/test-golden-zen.log || { echo "test-golden-zen: no golden suite ran (renamed?)"; exit 1; }; fi
