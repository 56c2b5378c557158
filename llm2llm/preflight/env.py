"""The environment check: CUDA devices, driver, and the versions of what a paper sweep uses."""

from __future__ import annotations

import platform
import subprocess
from typing import Any

from llm2llm.preflight.context import Context
from llm2llm.provenance import cpu_model

PACKAGES = ("torch", "transformers", "peft", "accelerate", "deepspeed", "vllm", "hydra-core", "omegaconf",
            "datasets", "tokenizers", "safetensors", "numpy")


def version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    try:
        return v(dist)
    except PackageNotFoundError:
        return None


def device_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def driver_version() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return None


def check_environment(ctx: Context) -> tuple[str, dict[str, Any]]:
    import os

    import torch

    from llm2llm.preflight.flops import bf16_peak_tflops

    cuda = torch.cuda.is_available()
    devices = [{"name": torch.cuda.get_device_name(i),
                "memory_bytes": torch.cuda.get_device_properties(i).total_memory,
                "capability": ".".join(map(str, torch.cuda.get_device_capability(i)))}
               for i in range(torch.cuda.device_count())] if cuda else []
    m = {"python": platform.python_version(), "platform": platform.platform(), "cpu": cpu_model(),
         "cpu_count": os.cpu_count(), "cuda_available": cuda, "cuda_runtime": torch.version.cuda,
         "driver": driver_version() if cuda else None, "devices": devices,
         "bf16_supported": bool(cuda and torch.cuda.is_bf16_supported()),
         "bf16_peak_tflops": bf16_peak_tflops(devices[0]["name"]) if devices else None,
         "versions": {p: version(p) for p in PACKAGES}}
    if devices:
        head = f"{len(devices)} x {devices[0]['name']} ({devices[0]['memory_bytes'] / 2**30:.0f} GiB), driver {m['driver']}, CUDA {m['cuda_runtime']}"
    else:
        head = f"no CUDA device: CPU {m['cpu']} ({m['cpu_count']} cores)"
    have = ", ".join(f"{p} {v}" for p, v in m["versions"].items() if v and p in ("torch", "transformers", "peft", "deepspeed", "vllm"))
    missing = [p for p, v in m["versions"].items() if not v]
    return f"{head}; {have}" + (f"; not installed: {', '.join(missing)}" if missing else ""), m
