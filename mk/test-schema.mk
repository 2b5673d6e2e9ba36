# The JSON Schema oracle: every pipeline file validates, and the schema agrees with the loader
# on the invalid corpus (Tests/HonePipelineTests/Corpus/invalid/MANIFEST.tsv).
TESTS += test-schema

.PHONY: test-schema
test-schema:
	@if [ -x $(PY) ]; then \
	  $(PY) Tests/schema/check_schema.py schemas/pipeline.schema.json Tests/HonePipelineTests/Corpus pipelines; \
	else \
	  echo "schema: skipped ($(PY) missing: run make deps-venv)"; \
	fi
