"""Evaluation: batched generation, label scoring, and per-example target losses.

All three sort examples by length so that a batch holds similar lengths (little padding), run the
longest batch first (an out-of-memory error shows up at once, not at the end), and return results
in input order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from llm2llm.example import Example
from llm2llm.student.data import (IGNORE_INDEX, encode, end_of_turn_id, fit_prompt, prompt_budget, prompt_ids,
                                  target_ids)
from llm2llm.student.kv_cache import cache_from_prefix


@dataclass
class Prediction:
    """One evaluated example: the raw model output, the parsed prediction, and whether it is right
    (``correct_by``: whether each answer extraction counts it right, for a task with several: GSM8K)."""

    id: str
    output: str
    prediction: str | None
    correct: bool
    correct_by: dict[str, bool] | None = None

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"id": self.id, "output": self.output, "prediction": self.prediction,
                               "correct": self.correct}
        if self.correct_by is not None:
            row["correct_by"] = dict(self.correct_by)
        return row


def _batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Indices grouped into batches of similar length, longest first."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    for s in range(0, len(order), batch_size):
        yield order[s:s + batch_size]


def _progress(total: int, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="ex", dynamic_ncols=True, leave=False)


class RowSampler:
    """A logits processor that samples each row's next token with that row's own generator.

    Temperature, top-k and top-p are transformers' own warpers; the draw is an inverse-CDF lookup of
    one uniform number per row and step from a CPU generator seeded for that example, so a row's
    tokens depend on its seed and its logits only (not on the batch, its order or the device). It
    returns scores that allow only the drawn token, which greedy search then takes.
    """

    def __init__(self, seeds: Sequence[int], temperature: float, top_k: int, top_p: float) -> None:
        import torch
        from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        warpers: list[Any] = [TemperatureLogitsWarper(temperature)]
        if top_k > 0:
            warpers.append(TopKLogitsWarper(top_k))
        if top_p < 1.0:
            warpers.append(TopPLogitsWarper(top_p))
        self.warpers = LogitsProcessorList(warpers)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        probs = torch.softmax(self.warpers(input_ids, scores).float(), dim=-1)
        cdf = probs.cumsum(-1)
        u = torch.cat([torch.rand(1, generator=g) for g in self.generators]).to(probs.device)
        token = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True).clamp(max=probs.shape[-1] - 1)
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, token, 0.0)


def generate(model: Any, tokenizer: Any, task: Any, examples: Sequence[Example], *, batch_size: int,
             max_new_tokens: int, max_length: int, do_sample: bool = False, temperature: float = 1.0,
             top_k: int = 0, top_p: float = 1.0, seeds: Sequence[int] | None = None, desc: str = "eval",
             share_prefix: bool = True) -> list[str]:
    """Raw outputs of batched generation: KV cache, greedy unless ``do_sample``.

    Sampling (``do_sample``) needs one seed per example (``seeds``): each example draws its tokens
    from its own generator (``RowSampler``), so the same seeds give the same outputs in any batch.

    Every prompt starts with the same tokens (chat template, system prompt, instruction: 48 of
    SST-2's 77 on average). With ``share_prefix`` that common prefix is encoded once and its KV
    cache copied into every batch's preallocated cache (kv_cache.py: no per-token concatenation);
    each row is then [prefix | padding | rest of its prompt], the padding masked out and positions
    counted without it, so each row computes what it would alone. ``share_prefix=False`` is plain
    left padding with transformers' own cache (kept for the benchmark's comparison).
    """
    import torch

    budget = prompt_budget(task, max_length, max_new_tokens)
    prompts = [fit_prompt(prompt_ids(tokenizer, task, ex, "eval"), budget) for ex in examples]  # as in training
    stop = sorted({tokenizer.eos_token_id, end_of_turn_id(tokenizer)})
    if do_sample and (seeds is None or len(seeds) != len(examples)):
        raise ValueError("sampling needs one seed per example")
    outputs: list[str] = [""] * len(examples)
    device = model.device
    shared = _common_prefix(prompts) if share_prefix and len(prompts) > 1 else 0
    with torch.inference_mode(), _progress(len(examples), desc) as bar:
        prefix_cache = None
        if shared:
            prefix_cache = model(input_ids=torch.tensor([prompts[0][:shared]], device=device), use_cache=True,
                                 logits_to_keep=1).past_key_values
        for idx in _batches([len(p) for p in prompts], batch_size):
            width = max(len(prompts[i]) - shared for i in idx)
            ids = torch.full((len(idx), shared + width), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            if shared:
                ids[:, :shared] = torch.tensor(prompts[idx[0]][:shared])
                mask[:, :shared] = 1
            for row, i in enumerate(idx):  # the rest of each prompt ends where generation starts
                rest = prompts[i][shared:]
                ids[row, shared + width - len(rest):] = torch.tensor(rest)
                mask[row, shared + width - len(rest):] = 1
            kwargs: dict[str, Any] = {}
            if do_sample:
                from transformers import LogitsProcessorList

                kwargs["logits_processor"] = LogitsProcessorList([RowSampler([seeds[i] for i in idx], temperature,
                                                                             top_k, top_p)])
            if prefix_cache is not None:
                kwargs["past_key_values"] = cache_from_prefix(prefix_cache, len(idx), shared + width + max_new_tokens)
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), max_new_tokens=max_new_tokens,
                                 eos_token_id=stop, pad_token_id=tokenizer.pad_token_id, use_cache=True,
                                 do_sample=False, **kwargs)
            for row, i in enumerate(idx):
                outputs[i] = tokenizer.decode(out[row, shared + width:], skip_special_tokens=True).strip()
            bar.update(len(idx))
    return outputs


def _gather_logprobs(model: Any, ids: Any, attention_mask: Any, position_ids: Any, rows: Any, src: Any, tgt: Any,
                     past_key_values: Any = None) -> Any:
    """log p(tgt | prefix) for each (row, src position) pair, computing the LM head only at those positions."""
    import torch

    hidden = model.base_model(input_ids=ids, attention_mask=attention_mask, position_ids=position_ids,
                              past_key_values=past_key_values, use_cache=past_key_values is not None).last_hidden_state
    at, where = torch.unique(rows * hidden.shape[1] + src, return_inverse=True)  # each position's LM head once
    logits = model.get_output_embeddings()(hidden.flatten(0, 1)[at]).float()
    return torch.log_softmax(logits, dim=-1)[where, tgt]


def _common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix all sequences share, leaving each at least one token of its own."""
    n = min(len(s) for s in seqs) - 1
    first = seqs[0]
    for s in seqs[1:]:
        k = 0
        while k < n and s[k] == first[k]:
            k += 1
        n = k
    return max(n, 0)


def _trie_size(conts: Sequence[tuple[int, ...]]) -> int:
    """Input columns the labels need: one per distinct proper prefix (a label's last token is only a target)."""
    return len({c[:t] for c in conts for t in range(1, len(c))})


def score_labels(model: Any, tokenizer: Any, task: Any, examples: Sequence[Example], *, batch_size: int,
                 max_length: int, desc: str = "eval") -> list[tuple[int, list[float]]]:
    """For each example, the index of the label whose target (plus end-of-turn) is most likely, and all scores.

    Work shared across examples and labels is done once: the prompt prefix common to every example
    (system prompt + instruction) is encoded once into a KV cache; each batch row then packs the
    rest of its prompt followed by the labels' continuations as a trie (labels that start with the
    same tokens share those columns; a label's last token is only predicted, never fed), with a
    block attention mask (each column sees the prompt and its own label's earlier tokens) and
    position ids continuing the prompt. One forward pass per batch, and the LM head once per
    position where a label token is predicted.
    """
    import torch

    conts_cache: dict[tuple[str, ...], list[tuple[int, ...]]] = {}
    prompts: list[list[int]] = []
    conts_of: list[list[tuple[int, ...]]] = []
    for ex in examples:
        targets = tuple(task.label_targets(ex))
        if targets not in conts_cache:
            conts_cache[targets] = [tuple(target_ids(tokenizer, t)) for t in targets]
        conts_of.append(conts_cache[targets])
        budget = prompt_budget(task, max_length, max(len(c) for c in conts_of[-1]))  # a label continues the prompt alone
        prompts.append(fit_prompt(prompt_ids(tokenizer, task, ex, "eval"), budget))
    device = model.device
    dtype = next(model.parameters()).dtype
    shared = _common_prefix(prompts)
    prefix_cache = None
    if shared:
        with torch.inference_mode():
            prefix_cache = model.base_model(input_ids=torch.tensor([prompts[0][:shared]], device=device),
                                            use_cache=True).past_key_values
    columns = {id(cs): _trie_size(cs) for cs in conts_of}
    lengths = [len(p) - shared + columns[id(cs)] for p, cs in zip(prompts, conts_of)]
    results: list[tuple[int, list[float]]] = [(0, [])] * len(examples)
    with torch.inference_mode(), _progress(len(examples), desc) as bar:
        for idx in _batches(lengths, batch_size):
            width = max(lengths[i] for i in idx)
            ids = torch.full((len(idx), width), tokenizer.pad_token_id, dtype=torch.long)
            pos = torch.zeros_like(ids)
            allow = torch.zeros((len(idx), width, shared + width), dtype=torch.bool)
            allow[:, :, :shared] = True  # everyone sees the shared prefix
            rows, src, tgt, owner = [], [], [], []  # owner: (batch row, label index) of each scored token
            for r, i in enumerate(idx):
                p, conts = prompts[i][shared:], conts_of[i]
                n = len(p)
                ids[r, :n] = torch.tensor(p)
                pos[r, :n] = torch.arange(shared, shared + n)
                allow[r, :n, shared:shared + n] = torch.ones(n, n, dtype=torch.bool).tril()
                node: dict[tuple[int, ...], int] = {}  # label prefix c[:t] (t >= 1) -> column of its last token
                for j, c in enumerate(conts):
                    for t in range(len(c)):  # token t of label j is predicted from the column of c[:t]
                        if t and c[:t] not in node:
                            q = node[c[:t]] = n + len(node)
                            ids[r, q] = c[t - 1]
                            pos[r, q] = shared + n + t - 1
                            allow[r, q, shared:shared + n] = True  # the prompt, then the label's own tokens
                            allow[r, q, [shared + node[c[:u]] for u in range(1, t + 1)]] = True
                        rows.append(r)
                        src.append(n - 1 if t == 0 else node[c[:t]])
                        tgt.append(c[t])
                        owner.append((r, j))
                for q in range(n + len(node), width):  # padding attends to itself (no empty softmax rows)
                    allow[r, q, shared + q] = True
            mask4d = torch.zeros(allow.shape, dtype=dtype).masked_fill(~allow, torch.finfo(dtype).min)[:, None]
            cache = None if prefix_cache is None else cache_from_prefix(prefix_cache, len(idx), shared + width)
            lp = _gather_logprobs(model, ids.to(device), mask4d.to(device), pos.to(device),
                                  torch.tensor(rows, device=device), torch.tensor(src, device=device),
                                  torch.tensor(tgt, device=device), cache).tolist()
            sums: dict[tuple[int, int], float] = {}
            for key, v in zip(owner, lp):
                sums[key] = sums.get(key, 0.0) + v
            for r, i in enumerate(idx):
                scores = [sums[(r, j)] for j in range(len(conts_of[i]))]
                results[i] = (max(range(len(scores)), key=scores.__getitem__), scores)
            bar.update(len(idx))
    return results


def example_losses(model: Any, tokenizer: Any, task: Any, examples: Sequence[Example], *, batch_size: int,
                   max_length: int, desc: str = "loss") -> list[float]:
    """Mean cross-entropy over each example's target tokens (the training loss of that example alone)."""
    import torch

    enc = [encode(tokenizer, task, ex, max_length) for ex in examples]
    out = [float("nan")] * len(examples)
    device = model.device
    with torch.inference_mode(), _progress(len(examples), desc) as bar:
        for idx in _batches([len(e["input_ids"]) for e in enc], batch_size):
            width = max(len(enc[i]["input_ids"]) for i in idx)
            ids = torch.full((len(idx), width), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            rows, src, tgt, owner = [], [], [], []
            for r, i in enumerate(idx):
                e = enc[i]
                ids[r, :len(e["input_ids"])] = torch.tensor(e["input_ids"])
                mask[r, :len(e["input_ids"])] = 1
                for t in range(1, len(e["labels"])):
                    if e["labels"][t] != IGNORE_INDEX:
                        rows.append(r), src.append(t - 1), tgt.append(e["labels"][t]), owner.append(i)
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            lp = _gather_logprobs(model, ids.to(device), mask.to(device), pos.to(device),
                                  torch.tensor(rows, device=device), torch.tensor(src, device=device),
                                  torch.tensor(tgt, device=device)).tolist()
            sums: dict[int, list[float]] = {}
            for i, v in zip(owner, lp):
                sums.setdefault(i, []).append(-v)
            for i in idx:
                if i in sums:
                    out[i] = sum(sums[i]) / len(sums[i])
            bar.update(len(idx))
    return out
