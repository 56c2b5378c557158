"""The teacher stage's progress bar."""

from __future__ import annotations

import time


class StageProgress:
    """The teacher stage's bar, in the style of the student's (tqdm, one line, gone when done):
    requests answered / asked (re-ask rounds add to the total), kept and rejected so far, and the
    teacher's completion tokens per second while it generates (cache hits take no time and are not
    counted)."""

    def __init__(self, desc: str) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=0, desc=desc, unit="req", dynamic_ncols=True, leave=False)
        self.kept = self.rejected = self.cached = self.tokens = 0
        self.gen_s = 0.0
        self._since: float | None = None

    def add(self, n: int, cached: int) -> None:
        self.bar.total += n
        self.cached += cached
        self.bar.update(cached)
        self._show()

    def answered(self, n: int, completion_tokens: int) -> None:
        self.tokens += completion_tokens
        self.bar.update(n)
        self._show()

    def start_generating(self) -> None:
        self._since = time.perf_counter()

    def stop_generating(self) -> None:
        if self._since is not None:
            self.gen_s += time.perf_counter() - self._since
            self._since = None

    def tokens_per_s(self) -> float:
        elapsed = self.gen_s + (time.perf_counter() - self._since if self._since is not None else 0.0)
        return self.tokens / elapsed if elapsed > 0 else 0.0

    def checked(self, kept: bool) -> None:
        self.kept += kept
        self.rejected += not kept
        self._show()

    def settle(self, kept: int, rejected: int) -> None:
        """The round's final (input-order) counts."""
        self.kept, self.rejected = kept, rejected
        self._show()

    def _show(self) -> None:
        self.bar.set_postfix_str(f"kept {self.kept}, rejected {self.rejected}, cached {self.cached}, "
                                 f"{self.tokens_per_s():.1f} tok/s", refresh=True)

    def close(self) -> None:
        self.bar.close()
