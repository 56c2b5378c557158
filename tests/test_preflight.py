"""The GPU preflight at toy sizes on the CPU: every check runs (or says why not), the training step
goes through the harness's own training code, and the JSON holds tokens/s, memory and the projection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ["environment", "train_full", "train_lora", "eval_generate", "eval_score", "eval_vllm", "projection"]


@pytest.fixture(scope="module")
def toy_report(tmp_path_factory) -> dict:
    """One toy preflight (recipe: conf/trainer/paper.yaml in this process; the ZeRO-3 launch path has its own test)."""
    out = tmp_path_factory.mktemp("preflight") / "report"
    proc = subprocess.run([sys.executable, "-m", "llm2llm.preflight", "--out", str(out), "--sizes", "toy",
                           "--trainer", "paper", "--sweep", str(ROOT / "sweeps" / "paper_gsm8k.yaml"),
                           "--sweep", str(ROOT / "sweeps" / "paper_sst2.yaml")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "preflight.json").read_text())
    report["_stdout"], report["_md"] = proc.stdout, (out / "preflight.md").read_text()
    return report


@pytest.mark.slow  # one whole toy preflight (module fixture)
def test_every_check_ran_or_says_why(toy_report):
    checks = {c["name"]: c for c in toy_report["checks"]}
    assert list(checks) == CHECKS
    for c in checks.values():
        assert c["status"] in ("ok", "skipped"), c
        assert c["detail"], c
        assert f"{c['name']}" in toy_report["_stdout"]  # one printed line per check
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        assert checks["eval_vllm"]["status"] == "skipped" and "vllm is not installed" in checks["eval_vllm"]["detail"]
    for name in CHECKS:
        if name != "eval_vllm":
            assert checks[name]["status"] == "ok", checks[name]


@pytest.mark.slow  # one whole toy preflight (module fixture)
def test_training_figures(toy_report):
    checks = {c["name"]: c for c in toy_report["checks"]}
    for name, lora in (("train_full", False), ("train_lora", True)):
        m = checks[name]["metrics"]
        assert m["lora"] is lora and m["recipe"] == "paper"
        assert m["optimizer_steps"] == toy_report["sizes"]["train_steps"] == len(m["step_seconds"])
        assert m["tokens_per_s"] > 0 and m["median_step_s"] > 0
        assert m["tokens_per_step"] == m["micro_batch"] * m["accumulation"] * m["seq_len"]
        assert m["peak_rss_bytes"] > 0 and m["peak_gpu_memory_bytes"] is None  # CPU
        assert m["mfu"] is None  # no bf16 peak for a CPU
        assert m["optimizer_state_dtypes"] == ["torch.float32"]  # fp32 optimizer state (and master weights)
        assert m["layers_student"] == 32  # Llama-2-7B's depth from its config, the toy model has 2
        assert m["student_tokens_per_s_same_mfu"] < m["tokens_per_s"]
    assert checks["train_full"]["metrics"]["trainable_dtypes"] == ["torch.float32"]


@pytest.mark.slow  # one whole toy preflight (module fixture)
def test_eval_figures(toy_report):
    checks = {c["name"]: c for c in toy_report["checks"]}
    gen, score = checks["eval_generate"]["metrics"], checks["eval_score"]["metrics"]
    assert gen["examples"] == toy_report["sizes"]["eval_examples"]
    assert 0 < gen["new_tokens"] <= gen["examples"] * gen["max_new_tokens"]
    assert gen["new_tokens_per_s"] > 0 and score["examples_per_s"] > 0
    assert gen["mean_prompt_tokens"] >= toy_report["sizes"]["eval_prompt_words"]


@pytest.mark.slow  # one whole toy preflight (module fixture)
def test_projection(toy_report):
    proj = {c["name"]: c for c in toy_report["checks"]}["projection"]["metrics"]
    assert proj["toy"] is True
    gsm = proj["sweeps"]["paper_gsm8k"]
    assert gsm["jobs"] == 4 * 4 * 3  # seed sizes x methods x seeds of sweeps/paper_gsm8k.yaml
    assert gsm["gpu_hours"] > 0
    cells = {(c["overrides"]["task.seed_size"], c["overrides"]["method"]): c for c in gsm["cells"]}
    llm2llm, finetune = cells[("747", "llm2llm")], cells[("747", "finetune")]
    assert llm2llm["iterations"] == 10 and finetune["iterations"] == 1
    assert llm2llm["train_examples"] == [747 * (1 + i) for i in range(10)]  # every seed wrong: the upper bound
    assert llm2llm["gpu_hours"] > finetune["gpu_hours"] > 0
    assert llm2llm["gpus"] == 8 and llm2llm["eval_mode"] == "generate" and llm2llm["max_new_tokens"] > 0
    assert "paper_sst2" in proj["sweeps"]
    assert "## paper_gsm8k" in toy_report["_md"] and "| train_full | ok |" in toy_report["_md"]


def test_bad_arguments_and_no_overwrite(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "preflight.json").write_text("{}")
    proc = subprocess.run([sys.executable, "-m", "llm2llm.preflight", "--out", str(out), "--only", "environment"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "already exists" in proc.stderr
    assert (out / "preflight.json").read_text() == "{}"
    proc = subprocess.run([sys.executable, "-m", "llm2llm.preflight", "--out", str(tmp_path / "s"), "--only", "nope"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown check" in proc.stderr


def test_bf16_peaks():
    from llm2llm.preflight.flops import bf16_peak_tflops

    assert bf16_peak_tflops("NVIDIA H100 80GB HBM3") == 989.4
    assert bf16_peak_tflops("NVIDIA H200") == 989.4
    assert bf16_peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert bf16_peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert bf16_peak_tflops("Some Future GPU") is None and bf16_peak_tflops(None) is None


def test_flops_of_llama2_7b():
    """6N per token for a full fine-tune, N = Llama-2-7B's weights less the input embedding (6.61e9)."""
    from llm2llm.preflight.flops import matmul_params, train_flops_per_token
    from llm2llm.preflight.synthetic import student_config

    cfg, _ = student_config("meta-llama/Llama-2-7b-hf")
    assert matmul_params(cfg) == 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008) + 4096 * 32000
    assert abs(matmul_params(cfg) + 4096 * 32000 - 6.738e9) / 6.738e9 < 0.001  # the published 6.74B
    full, lora = train_flops_per_token(cfg, 512, False), train_flops_per_token(cfg, 512, True)
    assert full - lora == 2 * matmul_params(cfg)


@pytest.mark.slow
def test_zero3_recipe_through_the_launch_path(tmp_path):
    """trainer=zero3 (the paper sweeps'): the step runs in a worker process started as Student.train starts it
    (DeepSpeed ZeRO-3, CPU accelerator here; its shared-memory op compiles once into TORCH_EXTENSIONS_DIR)."""
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "llm2llm.preflight", "--out", str(out), "--sizes", "toy",
                           "--trainer", "zero3", "--only", "train_full"], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    checks = {c["name"]: c for c in json.loads((out / "preflight.json").read_text())["checks"]}
    m = checks["train_full"]["metrics"]
    assert checks["train_full"]["status"] == "ok" and m["zero_stage"] == 3 and m["recipe"] == "zero3"
    assert m["optimizer_state_dtypes"] == ["torch.float32"] and m["tokens_per_s"] > 0
    assert len(m["step_seconds"]) == 3
