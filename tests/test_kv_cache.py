"""The preallocated prefix cache against transformers' own DynamicCache, on a tiny random Llama
(fast; the real SmolLM2 token-for-token check is tests/test_predict.py)."""

from __future__ import annotations

import copy

import pytest


@pytest.fixture(scope="module")
def model(tiny_llama):
    from llm2llm.models import load_model

    return load_model(tiny_llama, "float32").eval()


def test_preallocated_cache_steps_like_a_dynamic_cache(model):
    """Prefix encoded once, three rows continue it for several steps: same keys, values and logits."""
    import torch

    from llm2llm.student.kv_cache import cache_from_prefix

    torch.manual_seed(0)
    prefix = torch.randint(5, 1000, (1, 7))
    with torch.inference_mode():
        encoded = model(input_ids=prefix, use_cache=True).past_key_values
        dynamic = copy.deepcopy(encoded)
        dynamic.batch_repeat_interleave(3)
        static = cache_from_prefix(encoded, rows=3, capacity=7 + 5 + 4)
        step = torch.randint(5, 1000, (3, 5))  # a 5-token prompt rest, then four one-token steps
        for t in range(5):
            a = model(input_ids=step, past_key_values=dynamic, use_cache=True).logits
            b = model(input_ids=step, past_key_values=static, use_cache=True).logits
            assert torch.equal(a, b)
            step = a[:, -1:].argmax(-1)
    assert static.get_seq_length() == dynamic.get_seq_length() == 7 + 5 + 4
    for d, s in zip(dynamic.layers, static.layers):
        assert torch.equal(d.keys, s.keys) and torch.equal(d.values, s.values)
    assert len(encoded.layers[0].keys) == 1 and encoded.get_seq_length() == 7  # the prefix itself is untouched


def test_preallocated_cache_refuses_to_overflow(model):
    import torch

    from llm2llm.student.kv_cache import cache_from_prefix

    with torch.inference_mode():
        encoded = model(input_ids=torch.tensor([[5, 6, 7]]), use_cache=True).past_key_values
        cache = cache_from_prefix(encoded, rows=2, capacity=4)
        model(input_ids=torch.tensor([[8], [9]]), past_key_values=cache, use_cache=True)
        with pytest.raises(RuntimeError, match="KV cache of 4 positions cannot take 5"):
            model(input_ids=torch.tensor([[8], [9]]), past_key_values=cache, use_cache=True)


def test_sliding_window_models_keep_transformers_cache():
    """Layers other than plain full attention (here Mistral's sliding window) are not preallocated:
    the prefix is copied per row into transformers' own cache, and stepping it matches a fresh one."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    from llm2llm.student.kv_cache import cache_from_prefix

    torch.manual_seed(0)
    cfg = MistralConfig(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, sliding_window=4)
    model = MistralForCausalLM(cfg).eval()
    prefix, rest = torch.randint(5, 1000, (1, 6)), torch.randint(5, 1000, (2, 3))
    with torch.inference_mode():
        encoded = model(input_ids=prefix, use_cache=True).past_key_values
        cache = cache_from_prefix(encoded, rows=2, capacity=9)
        assert {type(layer).__name__ for layer in cache.layers} == {"DynamicSlidingWindowLayer"}
        cached = model(input_ids=rest, past_key_values=cache, use_cache=True).logits
        full = model(input_ids=torch.cat([prefix.expand(2, -1), rest], dim=1)).logits[:, -3:]
    assert torch.allclose(cached, full, atol=1e-5)
    assert encoded.layers[0].keys.shape[0] == 1  # the prefix itself is untouched
