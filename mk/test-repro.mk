# Determinism in CI: a fresh run of pipelines/ci.yaml must give the bytes its committed lockfile
# names (`hone repro --check`); a change that alters them fails here, naming each artifact.
TESTS += test-repro

.PHONY: test-repro
test-repro: build
	$(HONE) repro --check pipelines/ci.yaml
