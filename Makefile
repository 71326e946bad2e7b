# The two commands a fresh clone needs: `make demo` (the bridge's main job, locally) and `make test`.
# Both create .venv and install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
# The bundle's bytecode is compiled by a Python 3.13 (Lambda's runtime). Name one with ALERTBRIDGE_PYTHON313;
# otherwise pyenv's newest 3.13 when pyenv has one, else `python3.13` on PATH (synth fails if none works).
PYENV_313 := $(shell command -v pyenv >/dev/null 2>&1 && v=$$(pyenv latest 3.13 2>/dev/null) && echo "$$(pyenv root)/versions/$$v/bin/python3.13")
ALERTBRIDGE_PYTHON313 ?= $(PYENV_313)
export ALERTBRIDGE_PYTHON313

.PHONY: install demo test check lint typecheck bench synth deploy-test clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/alertbridge demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

# The quick loop: lint, types and the unit tests (tests/unit: no AWS mocks, no CDK synth, no emulator).
check: lint typecheck
	$(BIN)/pytest -q tests/unit

bench: $(STAMP)
	$(BIN)/python -m tests.bench

synth: $(STAMP)
	$(BIN)/python app.py

# The synthesized template deployed into moto's CloudFormation, the real handlers run against it.
deploy-test: $(STAMP)
	$(BIN)/pytest -q tests/infrastructure/test_deployed_template.py

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache
