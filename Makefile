# The README's two commands: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# CDK synthesis: jsii unpacks aws-cdk-lib into the project, not the user's home (aws-cdk-lib's own small
# asset-fingerprint cache still goes to ~/.cdk: it reads no setting); Node 20 is supported here.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_RUNTIME_PACKAGE_CACHE_ROOT := $(CURDIR)/build/cache/jsii

.PHONY: setup demo test test-fast lint artifacts synth bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The main job on the embedded default: the sample pipeline, run as a Glue-shaped job.
demo: setup
	$(BIN)/lineage demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

test-fast: lint
	$(BIN)/pytest -m "not slow"

# The three packagings of lineage_lib: Glue wheelhouse, EMR bootstrap action, Lambda layer.
artifacts: setup
	$(BIN)/python -m shipping.build --out build/artifacts

# The CDK app (cloud assembly in cdk.out/), offline; it deploys the artifacts built above.
synth: artifacts
	$(BIN)/python app.py

bench: setup
	$(BIN)/python bench/emit_bench.py
	$(BIN)/python bench/validator_bench.py

clean:
	rm -rf build dist cdk.out .pytest_cache .mypy_cache .ruff_cache
