# Autopilot: every target installs what it needs from the project's own files.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
ENV ?= dev
PYTEST_ARGS ?=
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

LOCK_VENV := .venv-lock

.PHONY: lock help venv test lint format typecheck unit bench demo up build validate deploy openapi nodes-doc clean

help:
	@echo "make demo      run the scripted demo on the embedded local stack"
	@echo "make test      lint, type-check and run the whole test suite"
	@echo "make up        run the local stack in real time (Ctrl-C stops it)"
	@echo "make bench     run every benchmark and write bench/RESULTS.md"
	@echo "make validate  sam validate --lint and cfn-lint"
	@echo "make build     sam build"
	@echo "make lock      recompile the hashed requirement locks"
	@echo "make deploy    sam deploy --config-env \$$ENV (dev or prod)"

$(VENV)/.installed: requirements-dev.txt layers/engine/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	echo "$(CURDIR)/layers/engine" > $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/autopilot-paths.pth
	echo "$(CURDIR)" >> $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/autopilot-paths.pth
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: venv
	$(VENV)/bin/mypy

test: lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)

bench: venv
	$(PY) -m bench

demo: venv
	$(PY) -m local.demo

up: venv
	$(PY) -m local.stack

openapi: venv nodes-doc
	$(PY) -m functions.control_api.openapi > docs/openapi.json

nodes-doc: venv
	$(PY) -m engine.nodes.docs > docs/NODES.md

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

# validate and build work offline without credentials; the SAM CLI still wants a region to name.
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-$${AWS_REGION:-us-east-1}}

validate: venv $(SAM_VENV)/.installed
	$(SAM_ENV) $(SAM) validate --lint
	$(VENV)/bin/cfn-lint template.yaml

build: $(SAM_VENV)/.installed
	$(SAM_ENV) $(SAM) build

deploy: build
	SAM_CLI_TELEMETRY=0 $(SAM) deploy --config-env $(ENV)

$(LOCK_VENV)/.installed: requirements-lock-tool.txt
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet -r requirements-lock-tool.txt
	touch $@

# Recompile the hashed locks from the .in files (runtime: the layer's requirements.txt, which sam build installs).
lock: $(LOCK_VENV)/.installed
	$(LOCK_VENV)/bin/uv pip compile --quiet --python-version 3.11 --generate-hashes layers/engine/requirements.in -o layers/engine/requirements.txt
	$(LOCK_VENV)/bin/uv pip compile --quiet --python-version 3.11 --generate-hashes requirements-dev.in -o requirements-dev.txt

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
