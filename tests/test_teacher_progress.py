"""The teacher stage's progress bar: requests answered / asked, kept, rejected, tokens/s, live.

Runs the real Teacher against FakeOpenAIServer (tests/teacher_fixtures.py: real openai client,
real HTTP on loopback; only the model is fake). Each redraw of the bar is recorded by wrapping its
``_show`` (the bar itself is the real tqdm bar).
"""

from __future__ import annotations

import re
from collections import Counter

from llm2llm.teacher import Teacher, progress
from teacher_fixtures import FakeOpenAIServer, Reply, last_user, load_split, teacher_cfg


def seed_text(req: dict) -> str:
    m = re.search(r"got wrong:\nSentence: (.*)$", last_user(req), re.MULTILINE)
    return m.group(1) if m else ""


def test_bar_counts_requests_kept_rejected_and_tokens(tmp_path, monkeypatch, capsys):
    task, train = load_split("sst2", "train")
    _, test = load_split("sst2", "test")
    seeds = train[:6]
    asked: Counter[str] = Counter()

    def handler(req, digest, seen):
        text = seed_text(req)
        asked[text] += 1
        if text == seeds[0].text and asked[text] == 1:
            return Reply(content=f"Sentence: {test[3].text}")  # contaminated: re-asked, then new
        if text in (seeds[4].text, seeds[5].text):
            return Reply(content="Sentence: the very same sentence every time")  # the later one is a duplicate
        return Reply(content=f"Sentence: a new sentence {req['seed']} about a film", delay_s=0.05 * (len(text) % 3))

    shown: list[tuple[int, float, int, int, float]] = []
    original = progress.StageProgress._show

    def spy(self):
        shown.append((self.bar.n, self.bar.total, self.kept, self.rejected, self.tokens_per_s()))
        original(self)

    monkeypatch.setattr(progress.StageProgress, "_show", spy)
    cfg = dict(cache_path=str(tmp_path / "cache"), api_key_env="LLM2LLM_TEST_UNSET_KEY", max_reasks=1)
    with FakeOpenAIServer(handler) as server:
        with Teacher(teacher_cfg(base_url=server.base_url, **cfg), task, str(tmp_path)) as teacher:
            r = teacher.augment(seeds, k=1, iteration=1, existing=train[:50], forbidden=test)
    s = r.stats
    assert (s["requests"], s["kept"], sum(s["rejected"].values())) == (8, 5, 3)  # 6 asked, 2 re-asked
    n, total, kept, rejected, tok_s = shown[-1]
    assert (n, total, kept, rejected) == (8, 8, 5, 3)
    assert tok_s > 0
    # Live during the first round: answered requests and kept/rejected grow one reply at a time
    # (the fake server answers 4 at a time, out of order; the bar checks them in input order).
    first = [x for x in shown if x[1] == 6]
    assert [x[0] for x in first] == sorted(x[0] for x in first) and first[-1][0] == 6
    counted = [x[2] + x[3] for x in first]
    assert counted == sorted(counted) and set(range(1, 7)) <= set(counted)
    assert (first[-1][2], first[-1][3]) == (4, 2)  # round 1: seeds 1-4 kept; seed 0 contaminated, seed 5 duplicate
    err = capsys.readouterr().err
    assert "teacher augment iter 1" in err and "tok/s" in err and "kept" in err


def test_cached_rerun_fills_the_bar_at_once(tmp_path, monkeypatch):
    task, train = load_split("sst2", "train")
    _, test = load_split("sst2", "test")
    cfg = dict(cache_path=str(tmp_path / "cache"), api_key_env="LLM2LLM_TEST_UNSET_KEY")
    handler = lambda req, digest, seen: Reply(content=f"Sentence: another sentence {req['seed']}")  # noqa: E731
    with FakeOpenAIServer(handler) as server:
        with Teacher(teacher_cfg(base_url=server.base_url, **cfg), task, str(tmp_path)) as teacher:
            teacher.augment(train[:3], k=2, iteration=1, existing=train[:50], forbidden=test)
        shown: list[tuple[int, float, int, float]] = []
        original = progress.StageProgress._show

        def spy(self):
            shown.append((self.bar.n, self.bar.total, self.cached, self.tokens_per_s()))
            original(self)

        monkeypatch.setattr(progress.StageProgress, "_show", spy)
        with Teacher(teacher_cfg(base_url=server.base_url, **cfg), task, str(tmp_path)) as teacher:
            teacher.augment(train[:3], k=2, iteration=1, existing=train[:50], forbidden=test)
    assert shown[0][:3] == (6, 6, 6) and shown[-1][3] == 0.0  # all from the cache: no generation, no tok/s
