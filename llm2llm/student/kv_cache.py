"""A KV cache that starts from a shared prompt prefix and grows in place.

transformers' DynamicCache appends each step's keys and values with ``torch.cat``, which copies
every layer's whole cache on every generated token, a large share of batched CPU generation's time
(profile: docs/benchmarks.md, "Generation's KV cache"). Here each layer's storage is
allocated once, for the prefix, the batch's prompts and the tokens to generate, and a step writes
only its new column. The values attention sees are the same tensors' first ``length`` columns, so
outputs are unchanged (tests/test_predict.py checks them token for token).
"""

from __future__ import annotations

import copy
import functools
from typing import Any


@functools.cache
def _layer_class() -> type:
    from transformers.cache_utils import DynamicLayer

    class PreallocatedLayer(DynamicLayer):
        """A DynamicLayer whose keys and values are views of storage allocated once (``capacity`` columns)."""

        def __init__(self, keys: Any, values: Any, capacity: int, rows: int) -> None:
            super().__init__()
            self.dtype, self.device = keys.dtype, keys.device
            shape = (rows, keys.shape[1], capacity)
            self._keys = keys.new_empty(shape + keys.shape[3:])
            self._values = values.new_empty(shape + values.shape[3:])
            self.length = 0
            self.is_initialized = True
            self._write(keys, values)

        def _write(self, keys: Any, values: Any) -> None:
            end = self.length + keys.shape[-2]
            if end > self._keys.shape[-2]:
                raise RuntimeError(f"KV cache of {self._keys.shape[-2]} positions cannot take {end}")
            self._keys[:, :, self.length:end] = keys  # broadcasts a one-row prefix over the batch
            self._values[:, :, self.length:end] = values
            self.length = end
            self.keys, self.values = self._keys[:, :, :end], self._values[:, :, :end]

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            self._write(key_states, value_states)
            return self.keys, self.values

    return PreallocatedLayer


def cache_from_prefix(prefix: Any, rows: int, capacity: int) -> Any:
    """A cache for ``rows`` sequences that all start with the one-row ``prefix`` cache and grow to ``capacity``.

    Only plain full-attention layers are preallocated; a model with other layer kinds (sliding
    window, ...) gets transformers' own cache, copied and repeated per row as before.
    """
    from transformers.cache_utils import DynamicCache, DynamicLayer

    if any(type(p) is not DynamicLayer for p in prefix.layers):
        cache = copy.deepcopy(prefix)
        cache.batch_repeat_interleave(rows)
        return cache
    layer = _layer_class()
    cache = DynamicCache()
    cache.layers = [layer(p.keys, p.values, capacity, rows) for p in prefix.layers]
    return cache
