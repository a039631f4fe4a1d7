# The commands a person types. Recipes run under /bin/sh; the venv is made by the
# targets that need it, from python3.13 (the Lambda runtime's version).
.DEFAULT_GOAL := help
SHELL := /bin/sh

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHON313 := $(shell sh scripts/find-python313.sh)
export SAM_CLI_TELEMETRY := 0

# Template checks, checkov's venv, build and deploy.
include mk/template.mk
include mk/bench.mk

.PHONY: help venv test demo invoke lint format clean bandit audit

# The code that ships: the function and the consumer library.
SHIPPED := functions/token_refresher/app.py functions/token_refresher/refresher \
	layers/matrix42_token/matrix42_token

help: ## list the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' \
		$(MAKEFILE_LIST)

$(STAMP): requirements-dev.txt constraints.txt functions/token_refresher/requirements.txt layers/matrix42_token/pyproject.toml
	@test -n "$(PYTHON313)" || { echo "python3.13 is needed: see README" >&2; exit 1; }
	test -x $(PY) || $(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check \
		-r requirements-dev.txt -c constraints.txt
	touch $@

venv: $(STAMP) ## create the development venv (.venv)

test: $(STAMP) $(CHECKOV_STAMP) bandit ## run the whole test suite
	$(PY) -m pytest

demo: $(STAMP) ## refresh, skip and read a token against local stand-ins
	@$(PY) -m scripts.demo

invoke: $(STAMP) ## run the handler here on EVENT=events/<file>.json
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/force-refresh.json" >&2; exit 2; }
	@$(PY) -m scripts.invoke "$(EVENT)"

format: $(STAMP) ## format the Python code
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lint: $(STAMP) lint-template bandit ## formatters, linters, security and template checks
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

bandit: $(STAMP) ## security lint of the shipped code (offline)
	$(VENV)/bin/bandit --quiet --configfile pyproject.toml --recursive $(SHIPPED)

audit: $(STAMP) ## known vulnerabilities in the pinned dependencies (needs PyPI's API)
	$(VENV)/bin/pip-audit --strict --progress-spinner off \
		--requirement functions/token_refresher/requirements.txt
	$(VENV)/bin/pip-audit --strict --progress-spinner off --requirement constraints.txt

clean: ## remove the venvs and build output
	rm -rf $(VENV) .venv-checkov .aws-sam .pytest_cache .ruff_cache .hypothesis
