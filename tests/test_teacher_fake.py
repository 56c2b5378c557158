"""The Teacher end to end against FakeOpenAIServer, a fake OpenAI-compatible HTTP server written in
these tests (tests/teacher_fixtures.py): real ``openai`` client, real HTTP on loopback, real SQLite
cache and validators; only the model is fake, so replies, faults and call counts are exact.
The same code path against a real llama.cpp server is in test_teacher_llamacpp.py.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter

import pytest

from llm2llm.teacher import Teacher, TeacherError
from llm2llm.teacher.backends import PLACEHOLDER_KEY
from teacher_fixtures import FakeOpenAIServer, Reply, free_port, last_user, load_split, teacher_cfg

# Bounds only a hang (a broken client); no assertion depends on how long anything takes.
HANG_GUARD_S = 60.0
CONTRACT_STATS = {"requests", "cache_hits", "cache_misses", "prompt_tokens", "completion_tokens", "cost_usd",
                  "generated", "kept", "rejected", "failed_examples", "wall_s"}


def sst2_reply(req: dict, digest: str, seen: int) -> Reply:
    """A well-formed SST-2 example, different for every sample (the request's seed differs)."""
    return Reply(content=f"Sentence: an invented sentence number {req['seed']} about a film")


def seed_text(req: dict) -> str:
    """The parent's sentence (the style examples above it are other seeds)."""
    m = re.search(r"got wrong:\nSentence: (.*)$", last_user(req), re.MULTILINE)
    return m.group(1) if m else ""


def make_teacher(server: FakeOpenAIServer, tmp_path, task, **cfg) -> Teacher:
    cfg.setdefault("cache_path", str(tmp_path / "teacher_cache"))
    return Teacher(teacher_cfg(base_url=server.base_url, api_key_env="LLM2LLM_TEST_UNSET_KEY", **cfg), task,
                   str(tmp_path))


def test_augment_provenance_stats_and_cached_rerun(tmp_path):
    task, train = load_split("sst2", "train")
    _, test = load_split("sst2", "test")
    seeds = train[:3]
    bodies = []

    def handler(req, digest, seen):
        bodies.append(req)
        return sst2_reply(req, digest, seen)

    with FakeOpenAIServer(handler) as server:
        price = {"prompt": 1.0, "completion": 2.0}
        with make_teacher(server, tmp_path, task, price_per_mtok=price) as teacher:
            teacher.check_ready()
            r1 = teacher.augment(seeds, k=2, iteration=1, existing=train[:50], forbidden=test)
        assert server.calls == 6
        assert all(b["n"] == 1 for b in bodies) and len({b["seed"] for b in bodies}) == 6  # one request per sample
        assert [e.id for e in r1.examples] == [f"{s.id}-it1-t{j}" for s in seeds for j in range(2)]
        for e in r1.examples:
            parent = next(s for s in seeds if s.id == e.parent_id)
            assert (e.origin, e.iteration, e.teacher_model, e.answer) == ("teacher", 1, "fake-model", parent.answer)
        assert [r["status"] for r in r1.records] == ["augmented"] * 3 and all(r["n_kept"] == 2 for r in r1.records)
        s = r1.stats
        assert CONTRACT_STATS <= set(s)
        assert (s["requests"], s["cache_misses"], s["cache_hits"], s["generated"], s["kept"]) == (6, 6, 0, 6, 6)
        assert (s["prompt_tokens"], s["completion_tokens"]) == (60, 30)
        assert s["cost_usd"] == pytest.approx(60 / 1e6 * 1.0 + 30 / 1e6 * 2.0)

        with make_teacher(server, tmp_path, task, price_per_mtok=price) as teacher:   # a re-run / resumed run
            r2 = teacher.augment(seeds, k=2, iteration=1, existing=train[:50], forbidden=test)
            empty = teacher.augment([], k=2, iteration=1, existing=train[:50], forbidden=test)
        assert server.calls == 6                                                      # nothing reached the server
        assert r2.examples == r1.examples and r2.records == r1.records
        assert (r2.stats["cache_hits"], r2.stats["cache_misses"], r2.stats["cost_usd"]) == (6, 0, 0.0)
        assert (empty.examples, empty.records, empty.stats["requests"]) == ([], [], 0)


def test_dedup_and_decontamination_are_counted_and_reasked(tmp_path):
    task, train = load_split("sst2", "train")
    _, test = load_split("sst2", "test")
    asked = Counter()

    def handler(req, digest, seen):
        text = seed_text(req)
        asked[text] += 1
        if text == train[0].text:  # 1st reply copies a test sentence, 2nd an existing one, 3rd is new
            content = [test[7].text.upper(), train[20].text, "a brand new sentence"][asked[text] - 1]
        else:                      # every other seed gets the same reply: all but the first are duplicates
            content = "the very same sentence every time"
        return Reply(content=f"Sentence: {content}")

    with FakeOpenAIServer(handler) as server, make_teacher(server, tmp_path, task, max_reasks=2) as teacher:
        r = teacher.augment(train[:3], k=1, iteration=0, existing=train[:50], forbidden=test)
    rec = {x["parent_id"]: x for x in r.records}
    assert rec[train[0].id]["reasons"][:2] == ["contaminated: copies a test example",
                                               "duplicate: ROUGE-L >= 0.95 with a known example"]
    assert rec[train[0].id]["status"] == "augmented" and rec[train[0].id]["n_requests"] == 3
    assert rec[train[1].id]["status"] == "augmented"
    assert rec[train[2].id]["status"] == "failed" and rec[train[2].id]["n_requests"] == 3   # capped: 1 + max_reasks
    assert r.stats["rejected"] == {"contaminated": 1, "duplicate": 1 + 3}
    assert r.stats["failed_examples"] == 1 and r.stats["kept"] == 2


def test_fault_injection_run_completes_and_rerun_is_served_from_cache(tmp_path, caplog):
    """Half of all first requests fail: 429 + Retry-After, 500, a reply that never comes before the
    client's timeout (the server holds it until the client has given up and retried), a non-JSON 200,
    a 200 without choices. One seed only ever gets unusable text. The run finishes, every example is
    augmented or recorded as failed, and an identical second run makes no call."""
    task, train = load_split("sst2", "train")
    _, test = load_split("sst2", "test")
    seeds = train[:8]
    doomed = seeds[3].text
    kinds = ["429", "ok", "500", "ok", "timeout", "ok", "garbage", "ok", "no_choices", "ok"]
    assigned: dict[str, str] = {}
    faults = Counter()

    retried: dict[str, threading.Event] = {}

    def handler(req, digest, seen):
        if seen == 1 and assigned.get(digest) == "timeout":
            retried.setdefault(digest, threading.Event()).set()
        if seen == 0:  # the first time this exact request arrives; its retries go through
            kind = assigned.setdefault(digest, kinds[len(assigned) % len(kinds)])
            faults[kind] += 1
            if kind == "429":
                return Reply(status=429, body={"error": {"message": "slow down"}}, headers={"Retry-After": "1"})
            if kind == "500":
                return Reply(status=500, body={"error": {"message": "boom"}})
            if kind == "timeout":  # answered only once the retry is in: later than any timeout
                retried.setdefault(digest, threading.Event()).wait(HANG_GUARD_S)
                return Reply(content="too late")
            if kind == "garbage":
                return Reply(body="<html>502 Bad Gateway</html>")
            if kind == "no_choices":
                return Reply(body={"id": "x", "object": "chat.completion", "choices": []})
        if seed_text(req) == doomed:
            return Reply(content="I am sorry, I cannot write that.")
        return sst2_reply(req, digest, seen)

    cfg = dict(timeout_s=2, max_retries=4, max_reasks=2, concurrency=4)
    with FakeOpenAIServer(handler) as server:
        with make_teacher(server, tmp_path, task, **cfg) as teacher:
            r1 = teacher.augment(seeds, k=1, iteration=2, existing=train[:50], forbidden=test)
        calls_after_first = server.calls
        assert set(faults) == set(kinds) and sum(faults.values()) == len(assigned)   # every kind happened
        for digest, kind in assigned.items():
            times = server.arrivals[digest]
            assert len(times) == (1 if kind == "ok" else 2), kind                     # every fault retried once
            if kind == "429":
                assert times[1] - times[0] >= 0.9                                    # Retry-After: 1 honoured
        assert len(r1.records) == len(seeds)
        status = {x["parent_id"]: x["status"] for x in r1.records}
        assert status == {s.id: ("failed" if s.text == doomed else "augmented") for s in seeds}
        doomed_rec = next(x for x in r1.records if x["parent_id"] == seeds[3].id)
        assert doomed_rec["n_requests"] == 3 and doomed_rec["reasons"] == ["no_input: no 'Sentence:' line"] * 3
        assert r1.stats["request_errors"] == 0 and r1.stats["failed_examples"] == 1 and r1.stats["kept"] == 7

        with make_teacher(server, tmp_path, task, **cfg) as teacher:
            r2 = teacher.augment(seeds, k=1, iteration=2, existing=train[:50], forbidden=test)
        assert server.calls == calls_after_first                                     # zero calls reached the server
        assert r2.stats["cache_misses"] == 0 and r2.stats["cache_hits"] == r1.stats["requests"]
        assert r2.examples == r1.examples and r2.records == r1.records


def test_permanent_errors_are_bounded_and_recorded(tmp_path):
    task, train = load_split("sst2", "train")
    broken = train[1].text

    def handler(req, digest, seen):
        if seed_text(req) == broken:
            return Reply(status=503, body={"error": {"message": "overloaded"}})
        return sst2_reply(req, digest, seen)

    with FakeOpenAIServer(handler) as server, \
            make_teacher(server, tmp_path, task, max_retries=1, max_reasks=1, timeout_s=2) as teacher:
        r = teacher.augment(train[:3], k=1, iteration=0, existing=[], forbidden=[])
        bad = next(x for x in r.records if x["parent_id"] == train[1].id)
        assert bad["status"] == "failed" and len(bad["errors"]) == 2 and "InternalServerError" in bad["errors"][0]
        assert [x["status"] for x in r.records] == ["augmented", "failed", "augmented"]
        assert r.stats["request_errors"] == 2
        assert server.calls == 2 + (1 + 1) * (1 + 1)   # (max_retries + 1) attempts x (1 + max_reasks) rounds


def test_concurrency_limit_is_respected(tmp_path):
    """Each reply is held until three requests are in flight (or all eight have arrived), so a client
    that keeps three going is seen at three however slowly it is scheduled, and one that sends more
    is seen above three."""
    task, train = load_split("sst2", "train")
    server: FakeOpenAIServer

    def handler(req, digest, seen):
        deadline = time.monotonic() + HANG_GUARD_S
        while server.inflight < 3 and server.calls < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        return sst2_reply(req, digest, seen)

    with FakeOpenAIServer(handler) as server, \
            make_teacher(server, tmp_path, task, concurrency=3, timeout_s=HANG_GUARD_S) as teacher:
        r = teacher.augment(train[:8], k=1, iteration=0, existing=[], forbidden=[])
    assert r.stats["kept"] == 8 and server.calls == 8 and server.max_inflight == 3


def test_gsm8k_augment_and_calculation_check(tmp_path):
    task, train = load_split("gsm8k", "train")
    _, test = load_split("gsm8k", "test")

    def handler(req, digest, seen):
        wrong = "<<3*4=13>>13" if "Natalia" in last_user(req) else "<<3*4=12>>12"
        n = req["seed"] % 1000
        return Reply(content=f"Question: Tom has {n} boxes of 4 pens and 3 more boxes. How many boxes?\n"
                             f"Answer: {n} + 3 = {n + 3}; 3 * 4 = {wrong}\n#### {n + 3}")

    with FakeOpenAIServer(handler) as server, \
            make_teacher(server, tmp_path, task, check_calculations=True, max_reasks=1) as teacher:
        r = teacher.augment(train[:3], k=1, iteration=1, existing=train[:3], forbidden=test)
    assert [x["status"] for x in r.records] == ["failed", "augmented", "augmented"]   # train[0] is Natalia's
    assert r.stats["rejected"] == {"bad_calculation": 2}
    assert all(task.parse(e.answer) is not None and e.answer.count("####") == 1 for e in r.examples)


def test_rephrase_keeps_labels(tmp_path):
    task, train = load_split("sst2", "train")
    with FakeOpenAIServer(sst2_reply) as server, make_teacher(server, tmp_path, task) as teacher:
        r = teacher.rephrase(train[:2], num_aug=2, existing=train[:2], forbidden=[])
        assert [e.id for e in r.examples] == [f"{s.id}-auggpt-r{j}" for s in train[:2] for j in range(2)]
        assert all(e.origin == "auggpt" and e.answer == train[int(e.parent_id.rsplit('-', 1)[1])].answer
                   for e in r.examples)
        with pytest.raises(ValueError, match="only seed examples"):   # augmented examples never go back
            teacher.augment([r.examples[0]], k=1, iteration=1, existing=[], forbidden=[])


# --------------------------------------------------------------------------- check_ready
def test_check_ready_needs_a_key_for_openai(tmp_path, monkeypatch):
    monkeypatch.delenv("LLM2LLM_TEST_UNSET_KEY", raising=False)
    task, _ = load_split("sst2", "train")
    t = Teacher(teacher_cfg(api_key_env="LLM2LLM_TEST_UNSET_KEY", cache_path=str(tmp_path / "teacher_cache")), task,
                str(tmp_path))
    with pytest.raises(TeacherError, match=r"\$LLM2LLM_TEST_UNSET_KEY is not set"):
        t.check_ready()
    t.close()


def test_check_ready_unreachable_server(tmp_path):
    task, _ = load_split("sst2", "train")
    cfg = teacher_cfg(base_url=f"http://127.0.0.1:{free_port()}/v1", cache_path=str(tmp_path / "teacher_cache"),
                      max_retries=0, timeout_s=2)
    with Teacher(cfg, task, str(tmp_path)) as t, pytest.raises(TeacherError, match="not reachable"):
        t.check_ready()


def test_key_comes_from_env_is_sent_and_never_logged(tmp_path, monkeypatch, caplog):
    secret = "sk-test-SECRET-0123456789"
    monkeypatch.setenv("LLM2LLM_TEST_KEY", secret)
    task, _ = load_split("sst2", "train")
    caplog.set_level(logging.DEBUG)
    with FakeOpenAIServer(models_status=401) as server:
        cfg = teacher_cfg(base_url=server.base_url, api_key_env="LLM2LLM_TEST_KEY", cache_path=str(tmp_path / "c"))
        with Teacher(cfg, task, str(tmp_path)) as t, pytest.raises(TeacherError, match="rejected the API key") as e:
            t.check_ready()
    assert secret not in str(e.value) and secret not in caplog.text


def test_placeholder_key_for_keyless_servers(tmp_path, monkeypatch, caplog):
    """A base_url and no key in the environment: the client sends a placeholder key and the run goes
    on; a model name the server does not list only warns (llama.cpp answers to any name)."""
    monkeypatch.delenv("LLM2LLM_TEST_UNSET_KEY", raising=False)
    task, train = load_split("sst2", "train")
    caplog.set_level(logging.WARNING, logger="llm2llm.teacher")
    with FakeOpenAIServer(sst2_reply, models=["other-model"]) as server, make_teacher(server, tmp_path, task) as t:
        t.check_ready()
        r = t.augment(train[:1], k=1, iteration=0, existing=[], forbidden=[])
    assert "lists ['other-model'], not 'fake-model'" in caplog.text
    assert server.auth == [f"Bearer {PLACEHOLDER_KEY}"] and r.stats["kept"] == 1


def test_rejected_key_is_recorded_as_failure_without_the_key(tmp_path, monkeypatch, caplog):
    secret = "sk-test-SECRET-abcdef0123"
    monkeypatch.setenv("LLM2LLM_TEST_KEY", secret)
    task, train = load_split("sst2", "train")
    caplog.set_level(logging.DEBUG)
    seen_auth = []

    def handler(req, digest, seen):
        return Reply(status=401, body={"error": {"message": f"Incorrect API key provided: {secret}"}})

    with FakeOpenAIServer(handler) as server:
        cfg = teacher_cfg(base_url=server.base_url, api_key_env="LLM2LLM_TEST_KEY", max_reasks=0,
                          cache_path=str(tmp_path / "teacher_cache"))
        with Teacher(cfg, task, str(tmp_path)) as t:
            r = t.augment(train[:2], k=1, iteration=0, existing=[], forbidden=[])
        seen_auth = server.auth
    assert seen_auth and all(a == f"Bearer {secret}" for a in seen_auth)     # the key from the env is what is sent
    assert [x["status"] for x in r.records] == ["failed", "failed"] and server.calls == 2   # 401: not retried
    assert "AuthenticationError" in r.records[0]["errors"][0]
    assert secret not in json.dumps(r.records) and secret not in caplog.text


def test_style_examples_are_other_seeds_of_the_parents_label(tmp_path):
    """teacher.style_examples=3: each prompt shows three other *seeds* with the parent's label (never the
    parent, never a teacher-written example), drawn the same way whatever the order of the pool."""
    from llm2llm.teacher.prompts import style_examples

    task, train = load_split("sst2", "train")
    _, test = load_split("sst2", "test")
    seeds = train[:16]
    written = [s.derive(id=f"{s.id}-it1-t0", text=f"a teacher sentence {i}", origin="teacher", parent_id=s.id,
                        iteration=1) for i, s in enumerate(seeds)]
    prompts: dict[str, str] = {}

    def handler(req, digest, seen):
        prompts[seed_text(req)] = last_user(req)
        return sst2_reply(req, digest, seen)

    with FakeOpenAIServer(handler) as server, make_teacher(server, tmp_path, task, style_examples=3) as teacher:
        r = teacher.augment(seeds[:4], k=1, iteration=2, existing=seeds + written, forbidden=test)
    assert len(r.examples) == 4 and len(prompts) == 4
    for parent in seeds[:4]:
        block = prompts[parent.text].split(f'Other examples labelled "{parent.answer}" in this dataset:\n')[1]
        shown = block.split("\n\n")[0].splitlines()
        same_label = {f"Sentence: {' '.join(s.text.split())}" for s in seeds if s.answer == parent.answer
                      and s.id != parent.id}
        assert len(shown) == 3 and set(shown) <= same_label, shown
        pool = seeds + written
        assert style_examples(parent, pool, 3, 0) == style_examples(parent, pool[::-1], 3, 0)
        assert style_examples(parent, pool, 3, 0) != style_examples(parent, pool, 3, 1)  # another run seed


def test_a_reply_that_crashes_the_parser_is_rejected_and_the_others_are_kept(tmp_path, monkeypatch):
    """Fault injection (the parser itself is replaced): a parser bug on one reply, which the cache
    would hand back on every re-run, is counted as parse_error instead of stopping the call."""
    from llm2llm.teacher.output_format import ClassificationFormat

    task, train = load_split("sst2", "train")
    _, test = load_split("sst2", "test")
    seeds = train[:3]
    real = ClassificationFormat.parse

    def buggy(self, text, parent, *a, **kw):
        if parent.id == seeds[1].id:
            raise ArithmeticError("a parser bug")
        return real(self, text, parent, *a, **kw)

    monkeypatch.setattr(ClassificationFormat, "parse", buggy)
    with FakeOpenAIServer(sst2_reply) as server, make_teacher(server, tmp_path, task, max_reasks=1) as teacher:
        r = teacher.augment(seeds, k=1, iteration=1, existing=seeds, forbidden=test)
    assert [e.parent_id for e in r.examples] == [seeds[0].id, seeds[2].id]
    assert r.stats["rejected"] == {"parse_error": 2}  # the first ask and its one re-ask
    assert r.records[1]["status"] == "failed" and r.records[1]["reasons"][0].startswith("parse_error")
