"""The "more labelled data" control: the seeds plus as many *random labelled train examples* as the
matching LLM2LLM run added (``method.budget_from``), once, before training.

What a researcher would get by labelling more data instead of generating it: examples drawn
uniformly (seeded by the run seed) from the train split, never a seed and never a text of the test
set. Their labels are the dataset's, so this bounds what perfectly labelled extra data of the same
size buys.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from llm2llm.example import Example
from llm2llm.methods.augment import AugmentConfig, counts
from llm2llm.methods.base import Method, register


@dataclass
class RandomExtraConfig(AugmentConfig):
    num_aug: int = 1


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


@register
class RandomExtra(Method):
    name = "random_extra"
    schema = RandomExtraConfig
    control = True

    def initial_training_set(self, cfg: Any, seeds: list[Example], train: list[Example], test: list[Example],
                             teacher: Any) -> tuple[list[Example], dict[str, Any]]:
        per_seed, budget = counts(cfg, seeds)
        total = sum(per_seed)
        taken = {e.id for e in seeds}
        banned = {_norm(e.text) for e in [*seeds, *test]}
        pool = [e for e in train if e.id not in taken and _norm(e.text) not in banned]
        drawn = random.Random(f"random_extra:{cfg.seed}").sample(pool, min(total, len(pool)))
        added = [Example(id=f"{e.id}-extra", text=e.text, answer=e.answer, choices=e.choices, origin="pool",
                         parent_id=None, iteration=0, meta={"source_id": e.id}) for e in drawn]
        return list(seeds) + added, {"generated": len(added), "kept": len(added), **budget}
