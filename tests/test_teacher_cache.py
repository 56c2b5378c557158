"""The teacher's cache (append-only shards, shared by processes) and the ROUGE-L dedup / decontamination index (no model, no server)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
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


def test_cache_roundtrip_first_writer_wins_and_other_processes_see_it(tmp_path):
    path = tmp_path / "cache"
    c = TeacherCache(path)
    assert c.get("x") is None and len(c) == 0
    c.put("x", REQ, "first", "stop", 3, 2)
    c.put("x", REQ, "second", "stop", 3, 2)
    assert c.get("x") == {"text": "first", "finish_reason": "stop", "prompt_tokens": 3, "completion_tokens": 2}
    assert set(c.get_many(["x", "y"])) == {"x"}
    # another process (a fresh cache object) reads it; what it writes, this one sees on its next miss
    other = subprocess.run([sys.executable, "-c", "import sys; from llm2llm.teacher.cache import TeacherCache as C; "
                            "c = C(sys.argv[1]); print(c.get('x')['text']); c.put('y', {'model': 'm'}, 'late', 'stop', 1, 1)",
                            str(path)], capture_output=True, text=True, timeout=120)
    assert other.returncode == 0 and other.stdout.strip() == "first", other.stderr
    assert c.get("y")["text"] == "late" and len(c) == 2
    shards = sorted(path.glob("shard-*.jsonl"))
    assert len(shards) == 2 and json.loads(shards[0].read_text().splitlines()[0])["request"]
    c.close()


def test_two_jobs_racing_on_one_request_both_use_the_first_written_answer(tmp_path):
    """Two jobs miss the same key, both generate, both store: after generating, each re-reads the
    shards (refresh=True, as Teacher._generate does) and uses the answer written first."""
    first, second = TeacherCache(tmp_path / "cache"), TeacherCache(tmp_path / "cache")
    assert first.get_many(["k"]) == {} and second.get_many(["k"]) == {}  # both miss: both ask the model
    first.put("k", REQ, "answer of the first job", "stop", 1, 1)
    second.put("k", REQ, "answer of the second job", "stop", 1, 1)
    assert second.get_many(["k"])["k"]["text"] == "answer of the second job"  # its own, until it re-reads
    for job in (first, second, TeacherCache(tmp_path / "cache")):
        assert job.get_many(["k"], refresh=True)["k"]["text"] == "answer of the first job"
    first.close()
    second.close()


def test_a_torn_last_line_of_a_killed_writer_is_ignored(tmp_path):
    c = TeacherCache(tmp_path / "cache")
    c.put("a", REQ, "kept", "stop", 1, 1)
    c.close()
    (tmp_path / "cache" / "shard-deadhost-1-x.jsonl").write_text('{"key": "b", "text": "half')
    fresh = TeacherCache(tmp_path / "cache")
    assert fresh.get("a")["text"] == "kept" and fresh.get("b") is None and len(fresh) == 1


def test_an_old_sqlite_cache_file_is_refused_with_a_clear_message(tmp_path):
    from llm2llm.errors import ConfigError

    old = tmp_path / "teacher_cache.sqlite"
    old.write_bytes(b"SQLite format 3\x00")
    try:
        TeacherCache(old)
    except ConfigError as e:
        assert "teacher.cache_path" in str(e) and "directory" in str(e)
    else:
        raise AssertionError("a cache file of the old format was accepted")


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


@pytest.mark.slow  # four processes, each importing the teacher package
def test_cache_concurrent_writers_from_several_processes(tmp_path):
    path = tmp_path / "shared"
    TeacherCache(path).close()
    n = 4
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for w in range(n)]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"shared.ready{w}").exists() for w in range(n)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    (tmp_path / "shared.go").touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    assert len(list(path.glob("shard-*.jsonl"))) == n  # one file per writer: nobody shares a file
    lines = sum(len(f.read_text().splitlines()) for f in path.glob("shard-*.jsonl"))
    assert lines == n * 1000  # every answer of every writer landed, whole
    a, b = TeacherCache(path), TeacherCache(path)
    assert len(a) == 2000
    keys = [f"k{i}" for i in range(2000)]
    assert a.get_many(keys) == b.get_many(keys)  # readers agree on which of two racing answers counts


@pytest.mark.slow  # the brute-force ROUGE-L reference takes half a minute
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


def test_decontamination_against_a_whole_test_split():
    _, test = load_split("gsm8k", "test")
    _, train = load_split("gsm8k", "train")
    index = NearDuplicateIndex((e.text for e in test), threshold=0.95)
    hits = [index.match(e.text + " ") for e in test[:100]] + [index.match(e.text) for e in train[:200]]
    assert all(hits[:100]) and sum(hits[100:]) == 0
