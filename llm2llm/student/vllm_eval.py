"""Evaluation with a vLLM engine (``student.eval_backend=vllm``), the iteration's LoRA adapter attached.

vLLM is not a dependency (it needs CUDA and is far larger than everything else here): install it
on the GPU machine (``pip install -e ".[vllm]"``). It is imported only when this backend is used;
without it the run stops with one line. The engine spreads the model over the node's GPUs by
tensor parallelism (the largest GPU count that divides the attention heads) and is kept between
evaluations of the same weights: a LoRA checkpoint is attached per request, a fully fine-tuned
checkpoint needs an engine of its own. ``close()`` frees the GPUs before training starts.

NOT RUN on a GPU by this project (no GPU was available to it); the CPU path never imports vllm.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any, Sequence

from llm2llm.errors import ConfigError
from llm2llm.example import Example
from llm2llm.student.data import end_of_turn_id, fit_prompt, prompt_budget, prompt_ids

#: LoRA ranks a vLLM engine accepts for ``max_lora_rank``
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


MISSING_VLLM = ("student.eval_backend=vllm needs the vllm package (pip install -e \".[vllm]\" on the GPU machine), "
                "or use student.eval_backend=hf")


def require_vllm() -> None:
    """ConfigError at start-up (not after the first training run) when vllm is not installed; imports nothing."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        raise ConfigError(MISSING_VLLM)


def import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise ConfigError(MISSING_VLLM) from None
    return vllm


def tensor_parallel_size(n_gpus: int, n_heads: int) -> int:
    """The largest GPU count up to ``n_gpus`` that divides the attention heads (vLLM's requirement)."""
    return max(d for d in range(1, max(1, n_gpus) + 1) if n_heads % d == 0)


def lora_rank_bound(r: int) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds rank ``r``."""
    return next((x for x in VLLM_LORA_RANKS if x >= r), r)


class VllmEvaluator:
    """Generation with vLLM for one student; prompts cut exactly as the HF path cuts them."""

    def __init__(self, base_model: str, tokenizer: Any, student_cfg: dict[str, Any], seed: int) -> None:
        self.base_model, self.tokenizer, self.cfg, self.seed = base_model, tokenizer, student_cfg, seed
        self._llm: Any = None
        self._weights: str | None = None  # what the engine holds: the base model or a full checkpoint
        self._adapters: dict[str, int] = {}  # LoRA checkpoint -> its id in the engine

    def _engine(self, weights: str) -> Any:
        if self._llm is not None and self._weights == weights:
            return self._llm
        self.close()
        vllm = import_vllm()
        import torch
        from transformers import AutoConfig

        heads = AutoConfig.from_pretrained(weights, trust_remote_code=self.cfg["trust_remote_code"]) \
            .num_attention_heads
        lora = self.cfg["lora"]
        kwargs: dict[str, Any] = dict(
            model=weights, tokenizer=self.base_model, seed=self.seed, max_model_len=self.cfg["max_length"],
            tensor_parallel_size=tensor_parallel_size(torch.cuda.device_count(), heads),
            trust_remote_code=self.cfg["trust_remote_code"])
        if self.cfg["dtype"] != "auto":
            kwargs["dtype"] = self.cfg["dtype"]
        if lora["enabled"]:
            kwargs.update(enable_lora=True, max_loras=1, max_lora_rank=lora_rank_bound(int(lora["r"])))
        self._llm, self._weights = vllm.LLM(**kwargs), weights
        return self._llm

    def generate(self, ckpt: Path | None, task: Any, examples: Sequence[Example]) -> list[str]:
        """Outputs for ``examples`` from ``ckpt`` (None: the base model), in input order: greedy, or
        sampled (eval.decoding=sample) with each request's own seed from (run seed, example id)."""
        from llm2llm.student.evaluation import sampling_seeds

        vllm = import_vllm()
        adapter = ckpt is not None and (Path(ckpt) / "adapter_config.json").is_file()
        llm = self._engine(self.base_model if ckpt is None or adapter else str(Path(ckpt).resolve()))
        max_new = task.max_new_tokens
        budget = prompt_budget(task, self.cfg["max_length"], max_new)
        prompts = [{"prompt_token_ids": fit_prompt(prompt_ids(self.tokenizer, task, ex, "eval"), budget)}
                   for ex in examples]
        common = dict(max_tokens=max_new, skip_special_tokens=True,
                      stop_token_ids=sorted({self.tokenizer.eos_token_id, end_of_turn_id(self.tokenizer)}))
        ev = task.eval
        if str(getattr(ev.decoding, "value", ev.decoding)) == "sample":
            params: Any = [vllm.SamplingParams(temperature=ev.temperature, top_k=ev.top_k if ev.top_k > 0 else -1,
                                               top_p=ev.top_p, seed=s, **common)
                           for s in sampling_seeds(self.seed, examples)]
        else:
            params = vllm.SamplingParams(temperature=0.0, **common)
        lora = None
        if adapter:
            from vllm.lora.request import LoRARequest

            path = str(Path(ckpt).resolve())
            lora_id = self._adapters.setdefault(path, len(self._adapters) + 1)
            lora = LoRARequest(f"adapter-{lora_id}", lora_id, path)
        outs = llm.generate(prompts, params, lora_request=lora, use_tqdm=False)
        return [o.outputs[0].text.strip() for o in outs]

    def close(self) -> None:
        """Shut the engine down and give its GPU memory back (training runs in other processes)."""
        if self._llm is None:
            return
        llm, self._llm, self._weights = self._llm, None, None
        self._adapters.clear()
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if hasattr(core, "shutdown"):
            core.shutdown()
        del llm
        try:
            from vllm.distributed.parallel_state import destroy_distributed_environment, destroy_model_parallel

            destroy_model_parallel()
            destroy_distributed_environment()
        except Exception:  # noqa: BLE001 - best effort: older/newer vLLM name these differently
            pass
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
