# The README's two commands: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# CDK synthesis: jsii unpacks aws-cdk-lib into the project, not the user's home (aws-cdk-lib's own small
# asset-fingerprint cache still goes to ~/.cdk: it reads no setting); Node 20 is supported here.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_RUNTIME_PACKAGE_CACHE_ROOT := $(CURDIR)/build/cache/jsii
# The CDK CLI's own cache and settings (notices, telemetry state) too: it reads CDK_HOME, else ~/.cdk.
export CDK_HOME := $(CURDIR)/build/cache/cdk

.PHONY: setup demo test test-fast lint artifacts synth synth-cli bootstrap deploy bench clean

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
	$(BIN)/lint-imports --no-cache  # the dependency rules: pyproject.toml [tool.importlinter]

test: lint
	$(BIN)/pytest

test-fast: lint
	$(BIN)/pytest -m "not slow"

# The two distributions (job wheel lineage-lib, tool wheel lineage-plane), the three packagings of the job
# wheel (Glue wheelhouses, EMR bootstrap action, Lambda layer) and the Lambda functions' assets.
artifacts: setup
	$(BIN)/python -m shipping.build --out build/artifacts

# The CDK app (cloud assembly in cdk.out/), offline; it deploys the artifacts built above.
synth: artifacts
	$(BIN)/python app.py

# The CDK CLI, pinned by package.json and package-lock.json, installed into node_modules/ (Node >= 20).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The same cloud assembly through the pinned CLI (cdk.json's app), as `cdk deploy` will make it.
synth-cli: artifacts node_modules/.installed
	CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=true npx --no-install cdk synth --no-notices -q

# Into the account and region of your AWS credentials: `make bootstrap` once, then `make deploy`.
# Context overrides: make deploy CDK_ARGS="-c lineage:alarmEmail=you@example.com"
bootstrap: artifacts node_modules/.installed
	CDK_DISABLE_CLI_TELEMETRY=true npx --no-install cdk bootstrap --no-notices $(CDK_ARGS)

deploy: artifacts node_modules/.installed
	CDK_DISABLE_CLI_TELEMETRY=true npx --no-install cdk deploy --no-notices $(CDK_ARGS)

bench: setup
	$(BIN)/python bench/emit_bench.py
	$(BIN)/python bench/validator_bench.py
	$(BIN)/python bench/lineage_bench.py
	$(BIN)/python bench/validate_bench.py

clean:
	rm -rf build dist cdk.out .pytest_cache .mypy_cache .ruff_cache
