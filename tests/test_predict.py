"""Evaluation by generation with the shared prompt prefix encoded once must give exactly the
outputs of plain batched generation: real examples of three tasks, the real SmolLM2 (a LoRA
checkpoint merged for inference behaves the same: the merged model is a plain model)."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from student_fixtures import DATA_DIR

from llm2llm.config import TaskConfig
from llm2llm.tasks import build_task


@pytest.fixture(scope="module")
def model_and_tok(smollm2_path):
    from llm2llm.models import load_model, load_tokenizer

    return load_model(smollm2_path, "float32").eval(), load_tokenizer(smollm2_path)


@pytest.mark.slow
@pytest.mark.parametrize("name,n,new_tokens", [("sst2", 20, 6), ("trec", 12, 6), ("gsm8k", 5, 40)])
def test_prefix_cached_generation_equals_plain_generation(model_and_tok, name, n, new_tokens):
    from llm2llm.student.data import prompt_ids
    from llm2llm.student.predict import _common_prefix, generate

    model, tok = model_and_tok
    task = build_task(OmegaConf.structured(TaskConfig(name=name)), DATA_DIR)
    examples = task.load("test")[:n]
    prompts = [prompt_ids(tok, task, e) for e in examples]
    assert _common_prefix(prompts) > 20 and len({len(p) for p in prompts}) > 1  # a real shared prefix, mixed lengths
    kw = dict(batch_size=8, max_new_tokens=new_tokens, max_length=512)  # the last batch is ragged
    plain = generate(model, tok, task, examples, share_prefix=False, **kw)
    cached = generate(model, tok, task, examples, share_prefix=True, **kw)
    assert all(plain) and cached == plain


@pytest.mark.slow
@pytest.mark.parametrize("name,n", [("sst2", 6), ("trec", 6), ("snips", 5)])
def test_label_scores_equal_naive_full_forward_log_likelihood(model_and_tok, name, n):
    """score_labels (shared prefix cache, labels packed as a trie, one forward per batch) gives every
    label the log-likelihood a plain forward pass of prompt + label + end-of-turn gives it."""
    import torch

    from llm2llm.student.data import prompt_ids, target_ids
    from llm2llm.student.predict import _trie_size, score_labels

    model, tok = model_and_tok
    task = build_task(OmegaConf.structured(TaskConfig(name=name)), DATA_DIR)
    examples = task.load("test")[:n]
    conts = [target_ids(tok, t) for t in task.label_targets(examples[0])]
    if name == "snips":  # labels that start alike share trie columns ("Search...")
        assert _trie_size([tuple(c) for c in conts]) < sum(len(c) - 1 for c in conts)
    scored = score_labels(model, tok, task, examples, batch_size=4, max_length=512)  # ragged last batch
    assert len(scored) == n
    for ex, (best, scores) in zip(examples, scored):
        prompt = prompt_ids(tok, task, ex)
        naive = []
        for c in [target_ids(tok, t) for t in task.label_targets(ex)]:
            with torch.inference_mode():
                logits = model(input_ids=torch.tensor([prompt + c])).logits[0].float()
            lp = torch.log_softmax(logits[len(prompt) - 1:-1], dim=-1)
            naive.append(lp[torch.arange(len(c)), torch.tensor(c)].sum().item())
        assert len(scores) == len(naive) == len(task.labels)
        assert scores == pytest.approx(naive, abs=2e-3)
        assert best == max(range(len(naive)), key=naive.__getitem__)
