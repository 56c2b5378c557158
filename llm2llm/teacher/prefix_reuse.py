"""Keeping the shared prompt prefix's KV state between llama.cpp teacher requests, without
changing a single reply.

llama-cpp-python's ``Llama.generate`` keeps the KV cells of the longest token prefix a prompt
shares with the sequence before it and decodes only the rest, from wherever the prefix ends. The
rest is then decoded in other batches than a prompt decoded from an empty state (``[0, n_batch)``,
``[n_batch, 2 n_batch)``, ...), and on a CPU the results of a matrix product may depend on how its
rows are batched (other kernels, other summation orders), so a reply could depend on what was
asked before it.

Here the kept prefix is cut down to whole ``n_batch`` blocks. Every block of a prompt is then
decoded as the same tokens, at the same positions, in the same batch, into the same KV cells
(llama.cpp fills freed cells from the lowest, and removing the cells past the kept prefix leaves
exactly the cells an empty state would have filled) as when the prompt is decoded from an empty
state, which is what a request after ``reset()`` does: the computations are the same, and so is
every reply. What is saved is every whole block of the shared prefix, so the llama.cpp teacher
decodes prompts in blocks of 64 tokens (``LlamaCppBackend.N_BATCH``) rather than llama-cpp-python's
default 512: a 510-token prompt that shares 350 tokens with the one before keeps 320. On the
embedded GGUF the replies with 64-token blocks were the replies with 512-token ones, text for text
(docs/benchmarks-teacher-prefix.md), so existing teacher caches stay what this code would answer.
"""

from __future__ import annotations

from typing import Any, Sequence


def kept_prefix(previous: Sequence[int], prompt: Sequence[int], n_batch: int) -> int:
    """How many leading tokens of ``prompt`` to keep from ``previous`` (the tokens whose KV cells
    are held): the shared prefix cut down to whole ``n_batch`` blocks, and never the whole prompt
    (its last token is always decoded, for the logits the first reply token is sampled from)."""
    limit = min(len(previous), len(prompt) - 1)
    shared = 0
    while shared < limit and previous[shared] == prompt[shared]:
        shared += 1
    return shared - shared % n_batch


def block_aligned_llama(llama_cls: type) -> type:
    """A subclass of llama-cpp-python's ``Llama`` whose ``generate`` keeps only whole ``n_batch``
    blocks of the prefix a prompt shares with the previous sequence (``kept_prefix``), and starts
    from an empty state otherwise."""

    class BlockAlignedLlama(llama_cls):  # type: ignore[misc, valid-type]
        kept_tokens = 0  # prompt tokens not decoded again, over all requests

        def generate(self, tokens: Sequence[int], *args: Any, **kwargs: Any) -> Any:
            keep = kept_prefix(self._input_ids.tolist(), list(tokens), self.n_batch) if self.n_tokens else 0
            if keep:
                self.n_tokens = keep  # generate() keeps these cells and drops the rest (kv_cache_seq_rm)
                self.kept_tokens += keep
            else:
                self.reset()
            return super().generate(tokens, *args, **kwargs)

    BlockAlignedLlama.__name__ = BlockAlignedLlama.__qualname__ = f"BlockAligned{llama_cls.__name__}"
    return BlockAlignedLlama
