# The Swift test suites, built in release (numeric code is 100x slower in debug).
TESTS += test-swift

.PHONY: test-swift
test-swift: build
	HONE_BIN=$(abspath $(HONE)) HONE_PYTHON=$(abspath $(PY)) $(SWIFT) test -c $(CONFIG) --skip-build
