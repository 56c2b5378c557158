"""The in-process transformers teacher (backend: local) with the real embedded SmolLM2-135M on real
SST-2 seeds: batched, left-padded, chat-templated sampling; then a re-run served from the cache."""

from __future__ import annotations

import pytest

from llm2llm.teacher import Teacher
from cli_helpers import CACHE_DIR
from teacher_fixtures import load_split, teacher_cfg

pytestmark = pytest.mark.slow


def test_local_teacher_on_real_sst2_seeds(tmp_path):
    task, train = load_split("sst2", "train")
    _, test = load_split("sst2", "test")
    seeds = train[:2]
    cfg = teacher_cfg(backend="local", model="embedded:smollm2-135m-instruct", max_tokens=64, batch_size=4,
                      max_reasks=1, dtype="float32", cache_path=str(tmp_path / "teacher_cache"))
    with Teacher(cfg, task, str(CACHE_DIR)) as teacher:
        teacher.check_ready()
        r1 = teacher.augment(seeds, k=2, iteration=1, existing=train[:100], forbidden=test)
        assert r1.stats["request_errors"] == 0 and r1.stats["completion_tokens"] > 0
        assert r1.examples, r1.records                      # the small model does produce usable examples
        assert r1.examples, r1.stats  # otherwise the checks below would pass vacuously
        for e in r1.examples:
            parent = next(s for s in seeds if s.id == e.parent_id)
            assert (e.answer, e.origin, e.teacher_model) == (parent.answer, "teacher", cfg.model)
            assert e.text.strip() and e.text != parent.text

        def no_generation(*a, **k):
            raise AssertionError("the re-run must be served from the cache")

        teacher.backend.generate = no_generation
        r2 = teacher.augment(seeds, k=2, iteration=1, existing=train[:100], forbidden=test)
    assert r2.examples == r1.examples and r2.stats["cache_hits"] == r1.stats["requests"]
