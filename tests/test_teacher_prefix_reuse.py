"""The llama.cpp teacher keeps the shared prompt prefix's KV state between requests
(llm2llm/teacher/prefix_reuse.py) and still gives every request the reply it gets from an empty
state, whatever was asked before it. Real embedded GGUF, requests built by the Teacher from real
seeds with the shipped teacher settings (JSON grammar, three style examples, copy guard)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from llm2llm.config import TaskConfig, teacher_config_file
from llm2llm.sampling import seed_set
from llm2llm.tasks import build_task
from llm2llm.teacher import Teacher
from llm2llm.teacher.backends import Backend, GenRequest
from llm2llm.teacher.inprocess import LlamaCppBackend
from llm2llm.teacher.prefix_reuse import kept_prefix

ROOT = Path(__file__).resolve().parent.parent


def test_kept_prefix_is_whole_blocks_and_never_the_whole_prompt():
    assert kept_prefix([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 9, 9], 2) == 4
    assert kept_prefix([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 9, 9], 4) == 4
    assert kept_prefix([1, 2, 3], [1, 2, 3, 4, 5], 4) == 0  # 3 shared: no whole block
    assert kept_prefix([1, 2, 3, 4, 5], [1, 2, 3, 4], 2) == 2  # same prompt: its last token is decoded again
    assert kept_prefix([], [1, 2], 1) == 0 and kept_prefix([7, 2], [1, 2], 1) == 0


class Recorder(Backend):
    """The requests the Teacher sends, answered by nobody."""

    def __init__(self, inner: Backend) -> None:
        self.inner, self.requests = inner, []

    def supports_schema(self) -> bool:
        return self.inner.supports_schema()

    def key_fields(self, schema: dict[str, Any] | None) -> dict[str, Any]:
        return self.inner.key_fields(schema)

    def generate(self, requests, on_done):
        self.requests += requests
        return [RuntimeError("recorded only")] * len(requests)


def teacher_requests(task, seeds, cfg, tmp_path: Path) -> list[GenRequest]:
    recorder = Recorder(LlamaCppBackend(cfg, str(tmp_path)))
    with Teacher(cfg, task, str(tmp_path), backend=recorder) as teacher:
        teacher.augment(seeds, k=2, iteration=1, existing=seeds, forbidden=[])
    return recorder.requests


def trec_fine_task(data_dir: Path, tmp_path: Path):
    """TREC with its 50 fine labels as an own task: prompts listing 50 labels, long shared prefixes."""
    files = {}
    for split, name in (("train", "train_5500.label"), ("test", "TREC_10.label")):
        lines = (data_dir / "trec" / name).read_text(encoding="latin-1").splitlines()
        rows = [json.dumps({"text": text.strip(), "label": label})
                for label, _, text in (line.partition(" ") for line in lines)]
        files[split] = tmp_path / f"{split}.jsonl"
        files[split].write_text("\n".join(rows) + "\n")
    return build_task(OmegaConf.structured(TaskConfig(name="jsonl", train_file=str(files["train"]),
                                                      test_file=str(files["test"]))), None)


@pytest.mark.slow
def test_prefix_reuse_gives_the_replies_of_fresh_requests(data_dir, tmp_path):
    pytest.importorskip("llama_cpp")
    cfg = teacher_config_file(ROOT / "conf" / "teacher" / "local-smollm2-llamacpp.yaml",
                              max_reasks=0, max_tokens=40, cache_path=str(tmp_path / "cache"))
    trec = trec_fine_task(data_dir, tmp_path)
    sst2 = build_task(OmegaConf.structured(TaskConfig(name="sst2")), str(data_dir))
    requests = []
    for task, n in ((trec, 2), (sst2, 1)):
        seeds = seed_set(task.load("train"), 60, 0)
        requests += teacher_requests(task, seeds[:n], cfg, tmp_path)  # 2 samples each: same prompt, other seed
    assert len(requests) == 6

    fresh = LlamaCppBackend(cfg, str(tmp_path), reuse_prefix=False)
    expected = [r.text for r in fresh.generate(requests, lambda req, gen: None)]
    fresh.close()

    kept = LlamaCppBackend(cfg, str(tmp_path))
    together = [r.text for r in kept.generate(requests, lambda req, gen: None)]  # its own (sorted) order
    one_by_one = {}
    for i in [4, 0, 3, 5, 1, 2]:  # another order: each request after some other one
        (res,) = kept.generate([requests[i]], lambda req, gen: None)
        one_by_one[i] = res.text
    kept_tokens = kept.llm.kept_tokens
    kept.close()

    assert together == expected
    assert [one_by_one[i] for i in range(len(requests))] == expected
    block = LlamaCppBackend.N_BATCH
    assert kept_tokens >= block * len(requests) and kept_tokens % block == 0, kept_tokens  # really kept, in blocks
