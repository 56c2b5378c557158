"""The teacher's SQLite cache and the ROUGE-L dedup / decontamination index (no model, no server)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time

from rouge_score import rouge_scorer

from llm2llm.teacher.cache import TeacherCache, cache_key
from llm2llm.teacher.dedup import NearDuplicateIndex, rouge_l
from teacher_fixtures import load_split

REQ = {"backend": "openai", "model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 1.0,
       "top_p": 1.0, "max_tokens": 8, "sample": 0}


def test_cache_key_covers_what_determines_the_answer():
    k = cache_key(REQ)
    assert k == cache_key(dict(reversed(list(REQ.items()))))  # order-independent
    for change in ({"sample": 1}, {"model": "m2"}, {"temperature": 0.5}, {"max_tokens": 9}, {"backend": "local"},
                   {"messages": [{"role": "user", "content": "hi!"}]}):
        assert cache_key({**REQ, **change}) != k, change


def test_cache_roundtrip_wal_and_first_writer_wins(tmp_path):
    path = tmp_path / "c.sqlite"
    c = TeacherCache(path)
    assert c.get("x") is None and len(c) == 0
    c.put("x", REQ, "first", "stop", 3, 2)
    c.put("x", REQ, "second", "stop", 3, 2)
    assert c.get("x") == {"text": "first", "finish_reason": "stop", "prompt_tokens": 3, "completion_tokens": 2}
    assert set(c.get_many(["x", "y"])) == {"x"}
    assert c.summary() == {"m": {"entries": 1, "prompt_tokens": 3, "completion_tokens": 2}}
    c.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert json.loads(conn.execute("SELECT request FROM responses").fetchone()[0])["model"] == "m"


WRITER = """
import sys, time
from pathlib import Path
from llm2llm.teacher.cache import TeacherCache
path, w = sys.argv[1], int(sys.argv[2])
c = TeacherCache(path)
Path(f"{path}.ready{w}").touch()
while not Path(f"{path}.go").exists():   # start writing together, so the writers really contend
    time.sleep(0.01)
for i in range(1000):
    key = f"k{(i + w * 500) % 2000}"      # neighbouring writers overlap on half their keys
    c.put(key, {"model": "m"}, f"w{w}-{i}", "stop", 1, 1)
    assert c.get(key) is not None
print("ok")
"""


def test_cache_concurrent_writers_from_several_processes(tmp_path):
    path = tmp_path / "shared.sqlite"
    TeacherCache(path).close()
    n = 4
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for w in range(n)]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"shared.sqlite.ready{w}").exists() for w in range(n)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    (tmp_path / "shared.sqlite.go").touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    assert len(TeacherCache(path)) == 2000


def test_near_duplicate_index_matches_brute_force_rouge_on_real_questions():
    _, train = load_split("gsm8k", "train")
    known = [e.text for e in train[:150]]
    index = NearDuplicateIndex(known, threshold=0.95)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    candidates = [e.text for e in train[150:170]]
    for q in known[:30]:                       # near-copies: one word changed, one word dropped, re-cased
        words = q.split()
        candidates += [" ".join(words[:-3] + ["banana"] + words[-2:]), " ".join(words[1:]), q.upper() + "!"]
    known_tokens = [scorer._tokenizer.tokenize(k) for k in known]
    for c in candidates:
        c_tokens = scorer._tokenizer.tokenize(c)
        brute = max(rouge_scorer._score_lcs(k, c_tokens).fmeasure for k in known_tokens)
        assert index.match(c) == (brute >= 0.95), (c, brute)
        assert rouge_l(known[0], c) == scorer.score(known[0], c)["rougeL"].fmeasure
    assert sum(index.match(c) for c in candidates) >= 60  # the near-copies are caught


def test_exact_normalised_match_and_threshold():
    index = NearDuplicateIndex(["The movie was great, really!"], threshold=0.95)
    assert index.match("the movie was GREAT really")
    assert not index.match("the movie was terrible")
    assert NearDuplicateIndex(["a b c d"], threshold=0.7).match("a b c e")       # F = 0.75
    assert not NearDuplicateIndex(["a b c d"], threshold=0.8).match("a b c e")


def test_decontamination_against_a_whole_test_split_is_fast():
    _, test = load_split("gsm8k", "test")
    _, train = load_split("gsm8k", "train")
    t0 = time.perf_counter()
    index = NearDuplicateIndex((e.text for e in test), threshold=0.95)
    hits = [index.match(e.text + " ") for e in test[:100]] + [index.match(e.text) for e in train[:200]]
    elapsed = time.perf_counter() - t0
    assert all(hits[:100]) and sum(hits[100:]) == 0
    assert elapsed < 10, f"{elapsed:.1f}s"
