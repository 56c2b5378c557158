"""Structured teacher output: JSON schemas per template, what is sent to each kind of server, and the
in-process llama.cpp teacher (real embedded SmolLM2 GGUF, real data)."""

from __future__ import annotations

import json

import pytest

from llm2llm.teacher import Teacher
from llm2llm.teacher.output_format import output_format, parse_output
from cli_helpers import CACHE_DIR
from teacher_fixtures import FakeOpenAIServer, Reply, load_split, teacher_cfg


@pytest.mark.parametrize("name", ["sst2", "trec", "gsm8k"])
def test_a_reply_of_the_schema_parses_into_an_example_of_the_parents_label(name):
    task, train = load_split(name, "train")
    parent = train[3]
    fmt = output_format(task)
    schema = fmt.schema(task, parent, "augment")
    assert schema is not None
    # AugGPT's rephrasings of a classification input have the same shape; GSM8K rephrasings stay plain
    assert (fmt.schema(task, parent, "rephrase") == schema) if name != "gsm8k" else fmt.schema(task, parent, "rephrase") is None
    if name == "gsm8k":
        reply = {"question": "Ann has 3 boxes of 4 pens and buys 5 more pens. How many pens does she have?",
                 "rationale": "3 * 4 = <<3*4=12>>12 pens in boxes, 12 + 5 = <<12+5=17>>17.", "answer": 17.0}
    else:
        (field,) = schema["required"]
        reply = {field: "an entirely new input written for this test"}
    parsed = parse_output(fmt.to_plain(json.dumps(reply), task, parent), parent, task)
    if name == "gsm8k":
        assert task.parse(parsed.answer) == "17" and parsed.text.startswith("Ann has")
    else:
        assert parsed.answer == parent.answer and parsed.text == "an entirely new input written for this test"


@pytest.mark.parametrize("structured,field", [("auto", None), ("json_schema", "response_format"),
                                              ("structured_outputs", "structured_outputs"),
                                              ("guided_json", "guided_json"), ("json_object", "response_format")])
def test_what_an_openai_compatible_server_is_sent(tmp_path, structured, field):
    """FakeOpenAIServer (tests/teacher_fixtures.py, a real HTTP server on 127.0.0.1 that records each request
    body) stands in for OpenAI / vLLM / a llama.cpp server: only the request body matters here, and real
    servers of all three kinds cannot run offline. vLLM >= 0.10.2 reads ``structured_outputs: {json: schema}``
    at the top level of the body (the openai client's ``extra_body`` is merged there); 0.12 removed
    ``guided_json`` and ignores it."""
    task, train = load_split("sst2", "train")
    _, test = load_split("sst2", "test")
    bodies = []

    def handler(req, digest, seen):
        bodies.append(req)
        if "response_format" in req or "guided_json" in req or "structured_outputs" in req:
            return Reply(content=json.dumps({"sentence": f"a constrained new review {req['seed']}"}))
        return Reply(content=f"Sentence: a plain new review {req['seed']}")

    with FakeOpenAIServer(handler) as server:
        cfg = teacher_cfg(base_url=server.base_url, api_key_env="LLM2LLM_TEST_UNSET_KEY", structured=structured,
                          cache_path=str(tmp_path / "cache"))
        with Teacher(cfg, task, str(tmp_path)) as teacher:
            r = teacher.augment(train[:2], k=1, iteration=1, existing=train[:2], forbidden=test)
    assert len(r.examples) == 2 and all(e.answer == p.answer for e, p in zip(r.examples, train[:2]))
    if field is None:  # the paper's plain text: nothing extra is sent
        assert all(not {"response_format", "guided_json", "structured_outputs", "extra_body"} & set(b) for b in bodies)
        assert all(e.text.startswith("a plain") for e in r.examples)
    else:
        assert all(field in b for b in bodies) and all(e.text.startswith("a constrained") for e in r.examples)
        sent = bodies[0].get("response_format") or {}
        schema = (bodies[0].get("guided_json") or bodies[0].get("structured_outputs", {}).get("json")
                  or sent.get("schema") or sent.get("json_schema", {}).get("schema"))
        assert schema["required"] == ["sentence"]
        others = {"response_format", "guided_json", "structured_outputs", "extra_body"} - {field}
        assert all(not others & set(b) for b in bodies)  # one way of asking, never two
        if structured == "structured_outputs":
            assert bodies[0]["structured_outputs"] == {"json": schema}


def llamacpp_teacher(tmp_path, cache: str):
    cfg = teacher_cfg(name="llamacpp-inproc", backend="llamacpp", model="embedded:smollm2-135m-instruct",
                      max_tokens=96, max_reasks=0, cache_path=str(tmp_path / cache))
    return cfg


@pytest.mark.slow
def test_in_process_llamacpp_is_seeded_per_request(tmp_path):
    pytest.importorskip("llama_cpp")
    task, train = load_split("sst2", "train")
    _, test = load_split("sst2", "test")
    seeds = train[:3]
    with Teacher(llamacpp_teacher(tmp_path, "cold"), task, str(CACHE_DIR)) as t:
        cold = t.augment(seeds, k=1, iteration=1, existing=seeds, forbidden=test)
    # another cache, warmed with the middle seed only: the other two requests must come out the same
    with Teacher(llamacpp_teacher(tmp_path, "warm"), task, str(CACHE_DIR)) as t:
        t.augment(seeds[1:2], k=1, iteration=1, existing=seeds, forbidden=test)
        warm = t.augment(seeds, k=1, iteration=1, existing=seeds, forbidden=test)
    assert warm.stats["cache_hits"] == 1 and warm.stats["cache_misses"] == 2
    assert [r["outputs"] for r in warm.records] == [r["outputs"] for r in cold.records]
    assert all(r["outputs"] and r["outputs"][0].startswith("{") for r in cold.records)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sst2", "trec", "gsm8k"])
def test_in_process_llamacpp_output_is_constrained_and_keeps_the_label(tmp_path, name):
    pytest.importorskip("llama_cpp")
    task, train = load_split(name, "train")
    _, test = load_split(name, "test")
    seeds = train[:4] if name != "gsm8k" else train[:2]
    cfg = llamacpp_teacher(tmp_path, "cache")
    cfg.max_tokens = 320 if name == "gsm8k" else 96
    with Teacher(cfg, task, str(CACHE_DIR)) as t:
        r = t.augment(seeds, k=1, iteration=1, existing=seeds, forbidden=test)
    outputs = [o for rec in r.records for o in rec["outputs"]]
    assert len(outputs) == len(seeds)
    assert all(o.lstrip().startswith("{") for o in outputs)  # the grammar held: every reply is a JSON object
    assert r.stats["rejected"].get("bad_json", 0) == 0
    assert r.examples, r.stats
    for e in r.examples:
        parent = next(s for s in seeds if s.id == e.parent_id)
        assert e.answer == parent.answer if name != "gsm8k" else task.parse(e.answer) is not None
    if name == "gsm8k":
        return
    # AugGPT's rephrasings go through the same grammar and the same validators. More seeds: the 135M
    # teacher often copies the sentence it is to rephrase (rejected as an echo); 0 of the first 4 kept.
    seeds = train[:16]
    with Teacher(cfg, task, str(CACHE_DIR)) as t:
        r = t.rephrase(seeds, 1, existing=[], forbidden=test)
    outputs = [o for rec in r.records for o in rec["outputs"]]
    assert len(outputs) == len(seeds) and all(o.lstrip().startswith("{") for o in outputs)
    assert r.stats["generated"] == r.stats["kept"] + sum(r.stats["rejected"].values())
    assert r.examples, r.stats
    for e in r.examples:
        parent = next(s for s in seeds if s.id == e.parent_id)
        assert e.origin == "auggpt" and e.answer == parent.answer and e.text != parent.text
