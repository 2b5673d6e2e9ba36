# Hone's build. A newcomer types two commands: `make run` and `make test`.
# Each area adds its own file under mk/ (tests, benchmarks, deps) instead of editing this one:
# a file appends its targets to TESTS, BENCHES or DEPS and they run as part of the umbrella.

SWIFT    ?= swift
CONFIG   ?= release
HONE     := .build/$(CONFIG)/hone
VENV     ?= .venv
PY       := $(VENV)/bin/python
PIPELINE ?= pipelines/demo.yaml

TESTS   :=
BENCHES :=
DEPS    :=

.PHONY: all deps build run test bench clean
all: build

include $(sort $(wildcard mk/*.mk))

deps: $(DEPS)

# Tests are built with the rest, so `make test` and `make run` share one build (swift test
# would otherwise rebuild every module with its own flags).
build: deps-system
	$(SWIFT) build -c $(CONFIG) --build-tests

run: deps-system build
	$(HONE) run $(PIPELINE)
	@$(HONE) summary -p $(PIPELINE)

test: deps build $(TESTS)
	@echo "make test: all test groups passed ($(TESTS))"

bench: deps build $(BENCHES)

clean:
	rm -rf .build $(VENV)
