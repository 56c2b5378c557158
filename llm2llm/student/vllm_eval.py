"""Evaluation with a vLLM engine (``student.eval_backend=vllm``), the iteration's LoRA adapter attached.

vLLM is not a dependency (it needs CUDA and is far larger than everything else here): install it
on the GPU machine. The engine uses every GPU of the node by tensor parallelism. NOT RUN on a GPU
by this project's tests (no GPU was available); the CPU path never imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from llm2llm.errors import ConfigError
from llm2llm.example import Example
from llm2llm.student.data import end_of_turn_id, fit_prompt, prompt_ids


def vllm_generate(base_model: str, ckpt: Path | None, tokenizer: Any, task: Any, examples: Sequence[Example],
                  student_cfg: dict[str, Any]) -> list[str]:
    """Greedy outputs for ``examples``, the prompts cut exactly as the HF path cuts them."""
    try:
        import torch
        from vllm import LLM, SamplingParams
        from vllm.inputs import TokensPrompt
        from vllm.lora.request import LoRARequest
    except ImportError:
        raise ConfigError("student.eval_backend=vllm needs the vllm package (pip install vllm on the GPU machine), "
                          "or use student.eval_backend=hf") from None
    adapter = ckpt is not None and (Path(ckpt) / "adapter_config.json").is_file()
    model = base_model if ckpt is None or adapter else str(ckpt)
    max_new = task.cfg.max_new_tokens
    llm = LLM(model=model, tokenizer=base_model, enable_lora=adapter, max_lora_rank=student_cfg["lora"]["r"],
              tensor_parallel_size=max(1, torch.cuda.device_count()), max_model_len=student_cfg["max_length"])
    budget = max(1, student_cfg["max_length"] - max_new)
    prompts = [TokensPrompt(prompt_token_ids=fit_prompt(prompt_ids(tokenizer, task, ex), budget)) for ex in examples]
    params = SamplingParams(temperature=0.0, max_tokens=max_new,
                            stop_token_ids=sorted({tokenizer.eos_token_id, end_of_turn_id(tokenizer)}))
    lora = LoRARequest("iteration", 1, str(ckpt)) if adapter else None
    outs = llm.generate(prompts, params, lora_request=lora)
    return [o.outputs[0].text.strip() for o in outs]
