"""AugGPT: num_aug label-preserving rephrasings per seed, through the Teacher (fake and real)."""

from __future__ import annotations

from collections import Counter

import pytest

from baseline_fixtures import ROOT, load
from baselines.auggpt import auggpt_augment
from llm2llm.errors import ConfigError
from llm2llm.example import Example


class FakeResult:
    def __init__(self, examples, stats):
        self.examples, self.records, self.stats = examples, [], stats


class FakeTeacher:
    """Returns ``num_aug + extra`` rephrasings per example, or fewer for ids in ``short``."""

    def __init__(self, extra=0, short=()):
        self.calls = []
        self.extra, self.short = extra, set(short)

    def rephrase(self, examples, num_aug, existing, forbidden, iteration=0):
        self.calls.append(([e.id for e in examples], num_aug, len(existing), len(forbidden)))
        out = []
        for e in examples:
            n = num_aug - 1 if e.id in self.short else num_aug + self.extra
            out += [e.derive(id=f"{e.id}-auggpt-r{j}", text=f"{e.text} (v{j})", origin="auggpt", parent_id=e.id,
                             teacher_model="fake") for j in range(n)]
        return FakeResult(out, {"requests": len(examples) * num_aug, "kept": len(out), "rejected": {"format": 1}})


SEEDS = [Example(id=f"s{i}", text=f"sentence {i}", answer="positive") for i in range(5)]


def test_counts_grouping_and_stats():
    t = FakeTeacher()
    out, stats = auggpt_augment(t, SEEDS, [2, 1, 2, 0, 1], existing=SEEDS[:1], forbidden=SEEDS[:2])
    assert Counter(e.parent_id for e in out) == {"s0": 2, "s1": 1, "s2": 2, "s4": 1}
    assert [e.parent_id for e in out] == ["s0", "s0", "s1", "s2", "s2", "s4"]  # grouped in seed order
    # one call per distinct count, each seed in exactly one call; seeds always count as existing
    assert [(ids, k) for ids, k, _, _ in t.calls] == [(["s1", "s4"], 1), (["s0", "s2"], 2)]
    assert t.calls[0][2] == 6 and t.calls[0][3] == 2
    assert t.calls[1][2] == 6 + 2  # the first call's outputs are known to the second
    assert stats["requested"] == stats["kept"] == 6 and stats["shortfall"] == 0 and stats["calls"] == 2
    assert stats["teacher"]["requests"] == 2 * 1 + 2 * 2 and stats["teacher"]["rejected"] == {"format": 2}


def test_surplus_is_trimmed_and_shortfall_reported():
    out, stats = auggpt_augment(FakeTeacher(extra=2), SEEDS, 3)
    assert len(out) == 15 and stats["surplus_dropped"] == 10
    out, stats = auggpt_augment(FakeTeacher(short={"s1", "s3"}), SEEDS, 3)
    assert len(out) == 13 and stats["shortfall"] == 2 and stats["short_seeds"] == 2


def test_bad_counts():
    with pytest.raises(ValueError):
        auggpt_augment(FakeTeacher(), SEEDS, [1, 2])
    with pytest.raises(ConfigError):
        auggpt_augment(FakeTeacher(), SEEDS, -1)
    out, stats = auggpt_augment(FakeTeacher(), SEEDS, 0)
    assert out == [] and stats["calls"] == 0


@pytest.mark.slow
def test_auggpt_with_the_real_local_teacher(data_dir, cache_dir, tmp_path):
    """Two SST-2 seeds, two rephrasings each, by the in-process SmolLM2 teacher (local backend)."""
    from llm2llm.config import teacher_config_file
    from llm2llm.teacher import Teacher

    # short answers, one re-ask: keeps the test near a minute
    cfg = teacher_config_file(ROOT / "conf" / "teacher" / "local-smollm2.yaml",
                              cache_path=str(tmp_path / "teacher_cache"), max_tokens=64, max_reasks=1)
    task, seeds = load("sst2", data_dir, n=2, start=10)
    _, test = load("sst2", data_dir, split="test", n=50)
    teacher = Teacher(cfg, task, str(cache_dir))
    try:
        teacher.check_ready()
        out, stats = auggpt_augment(teacher, seeds, 2, forbidden=test)
        again, stats2 = auggpt_augment(teacher, seeds, 2, forbidden=test)
    finally:
        teacher.close()
    assert stats["requested"] == 4 and stats["kept"] == len(out) and stats["shortfall"] == 4 - len(out)
    assert stats["teacher"]["requests"] >= 4
    # a 135M teacher does not always follow the format (rejections are counted, never kept)
    assert len(out) >= 1, stats
    assert stats["teacher"]["generated"] == stats["teacher"]["kept"] + sum(stats["teacher"]["rejected"].values())
    by_id = {s.id: s for s in seeds}
    for e in out:
        p = by_id[e.parent_id]
        assert e.origin == "auggpt" and e.answer == p.answer and e.text.strip() and e.text != p.text
        assert e.teacher_model == cfg.model
    assert Counter(e.parent_id for e in out).most_common(1)[0][1] <= 2
    assert len({e.id for e in out}) == len(out)
    # a second identical call is answered from the teacher cache: same examples, no new generation
    assert [(e.id, e.text) for e in again] == [(e.id, e.text) for e in out]
    assert stats2["teacher"]["cache_misses"] == 0
