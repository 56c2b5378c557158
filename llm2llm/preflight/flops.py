"""Model FLOPs per token, the device's bf16 peak, and model FLOP utilisation (MFU).

MFU counts the FLOPs the model needs (PaLM's convention, Chowdhury et al. 2022, appendix B), not
what the hardware ran: recomputation under gradient checkpointing is not counted, so a checkpointed
step reports a lower MFU than the hardware's real utilisation.

- Matrix multiplies: 2 FLOPs per weight per token forward; a full fine-tune's backward is twice
  the forward (gradients of activations and of weights): 6 per weight per token in all. Under LoRA
  the frozen weights get no weight gradient: 4 per weight per token (the adapters are negligible).
- Attention scores and their weighted sum: 2 x 2 x seq x hidden FLOPs per layer per token forward
  (causal masking not subtracted, as in PaLM), times 3 for training.
- The input embedding is a lookup, not a matrix multiply: not counted. The LM head is.
"""

from __future__ import annotations

from typing import Any

#: dense bf16 tensor-core peaks (TFLOP/s, no sparsity), from NVIDIA's data sheets; matched in this order
#: against torch.cuda.get_device_name(). Unknown devices get no MFU (null), never a guess.
BF16_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H200", 989.4),
    ("GH200", 989.4),
    ("H100 PCIE", 756.0),
    ("H100 NVL", 835.0),
    ("H100", 989.4),   # SXM (e.g. "NVIDIA H100 80GB HBM3")
    ("H800", 989.4),
    ("A100", 312.0),
    ("A800", 312.0),
    ("L40S", 362.1),
    ("L4", 121.0),
    ("A10G", 70.0),
    ("A10", 125.0),
)


def bf16_peak_tflops(device_name: str | None) -> float | None:
    """The dense bf16 peak of a device by name, or None when this table does not know it."""
    if not device_name:
        return None
    name = device_name.upper()
    for key, peak in BF16_PEAK_TFLOPS:
        if key in name:
            return peak
    return None


def matmul_params(config: Any) -> int:
    """Weights that take part in a matrix multiply per token: every decoder layer plus the LM head."""
    h = config.hidden_size
    layers = config.num_hidden_layers
    heads = config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or h // heads
    attn = h * heads * head_dim * 2 + h * kv * head_dim * 2          # q, o and k, v
    mlp = 3 * h * config.intermediate_size                           # gate, up, down (SwiGLU)
    return layers * (attn + mlp) + h * config.vocab_size


def attention_flops_per_token(config: Any, seq_len: int) -> int:
    """Forward FLOPs of QK^T and AV per token at sequence length ``seq_len``."""
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return 4 * config.num_hidden_layers * seq_len * heads * head_dim


def train_flops_per_token(config: Any, seq_len: int, lora: bool) -> int:
    """Model FLOPs of one training token (forward + backward)."""
    per_weight = 4 if lora else 6
    return per_weight * matmul_params(config) + 3 * attention_flops_per_token(config, seq_len)


def mfu(tokens_per_s: float | None, flops_per_token: float, peak_tflops: float | None, devices: int = 1) -> float | None:
    """Achieved model FLOP/s over the peak of ``devices`` devices; None without a known peak."""
    if not tokens_per_s or not peak_tflops:
        return None
    return tokens_per_s * flops_per_token / (peak_tflops * 1e12 * devices)
