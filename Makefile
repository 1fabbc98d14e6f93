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

.PHONY: lock help venv test lint format typecheck unit bench demo up build validate deploy openapi nodes-doc clean web browser

help:
	@echo "make demo      run the scripted demo on the embedded local stack"
	@echo "make test      lint, type-check and run the whole test suite"
	@echo "make up        run the local stack in real time (Ctrl-C stops it)"
	@echo "make bench     run every benchmark and write bench/RESULTS.md"
	@echo "make validate  sam validate --lint and cfn-lint"
	@echo "make build     sam build (builds the web dashboard first)"
	@echo "make web       build the web dashboard (npm ci + vite) into functions/web_static/dist"
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

# ---- the web dashboard: React + TypeScript from npm (committed lockfile), built into the static function's
# package, so `sam build` ships it. Rebuilt only when a source, the lockfile or the config changed.
WEB_DIST := functions/web_static/dist/index.html
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/package.json web/package-lock.json \
	web/vite.config.ts web/tsconfig.json

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

$(WEB_DIST): web/node_modules/.installed $(WEB_SOURCES) template.yaml local/web_routes.py | $(VENV)/.installed
	cd web && npm run build
	$(PY) -m local.web_routes > functions/web_static/dist/api-routes.json
	touch $@

web: $(WEB_DIST)

# ---- the browser of the browser tests: Debian's chromium and fonts (never `playwright install`)
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) apt-get install -y chromium fonts-dejavu-core fonts-liberation

browser: $(CHROMIUM)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: venv
	$(VENV)/bin/mypy

test: lint typecheck $(WEB_DIST) $(CHROMIUM)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: venv
	$(PY) -m bench

demo: venv $(WEB_DIST)
	$(PY) -m local.demo

up: venv $(WEB_DIST)
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

build: $(SAM_VENV)/.installed $(WEB_DIST)
	$(SAM_ENV) $(SAM) build
	$(PY) -m local.bytecode .aws-sam/build  # ship bytecode: Lambda cannot cache what it compiles at cold start

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
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache functions/web_static/dist test-artifacts
