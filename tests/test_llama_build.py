"""The installed llama-cpp-python build (Makefile, LLAMA_CPU): no AMX code path, and the embedded
teacher generates in-process with it (README, "CPUs")."""

from __future__ import annotations

import platform
import re
from pathlib import Path

import pytest


def system_info() -> dict[str, str]:
    import llama_cpp

    text = llama_cpp.llama_print_system_info().decode()
    return dict(re.findall(r"(\w+) = (\w+)", text))


def test_llama_cpp_build_has_no_amx() -> None:
    info = system_info()
    assert info, "llama_print_system_info() reported no features"
    amx = {k: v for k, v in info.items() if k.startswith("AMX")}
    assert all(v == "0" for v in amx.values()), f"llama.cpp was built with its AMX path: {amx}"
    if platform.machine() == "x86_64":
        assert info.get("AVX2") == "1", f"x86-64 builds are at least x86-64-v3 (AVX2): {info}"


@pytest.mark.slow
def test_embedded_teacher_generates_in_process() -> None:

    from llm2llm.config import teacher_config_file
    from llm2llm.teacher.backends import GenRequest
    from llm2llm.teacher.factory import make_backend

    shipped = Path(__file__).resolve().parent.parent / "conf/teacher/local-smollm2-llamacpp.yaml"
    backend = make_backend(teacher_config_file(shipped, max_tokens=24), cache_dir="unused")
    try:
        done = []
        results = backend.generate(
            [GenRequest(key="0123abcd" * 8, messages=[{"role": "user", "content": "Name a colour."}])],
            on_done=lambda req, gen: done.append(gen))
    finally:
        backend.close()
    gen = results[0]
    assert not isinstance(gen, BaseException), gen
    assert gen.text.strip() and gen.completion_tokens > 0
    assert done == [gen]
