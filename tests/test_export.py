"""``python -m llm2llm.export``: a run's training sets as a Hugging Face dataset (save_to_disk and
Parquet) with provenance columns and a dataset card; ``--push-to-hub`` with the Hub faked.

The run directory here is written by hand with the harness's own writers, from real SST-2 examples
and the composed default config; tests/test_loop_e2e.py exports a real run too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm2llm.example import Example, atomic_write_json, read_examples, write_examples
from llm2llm.export import main

REPO = Path(__file__).resolve().parent.parent


def composed_config() -> dict:
    from hydra import compose, initialize_config_dir

    from llm2llm.config import to_plain
    from llm2llm.schemas import register_configs

    register_configs()
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        return to_plain(compose("config", overrides=["task=sst2", "task.seed_size=4"]))


def make_run(root: Path, data_dir: Path) -> Path:
    from llm2llm.config import TaskConfig
    from llm2llm.provenance import environment
    from llm2llm.tasks import build_task

    seeds = build_task(TaskConfig(name="sst2"), str(data_dir)).load("train")[:4]
    run = root / "run"
    config = composed_config()
    atomic_write_json(run / "config.json", config)
    atomic_write_json(run / "environment.json", environment())
    write_examples(run / "iter_0" / "train.jsonl", seeds)
    added = [Example(id=f"{seeds[1].id}-it1-t0", text="a teacher-written sentence about a film", answer=seeds[1].answer,
                     origin="teacher", parent_id=seeds[1].id, iteration=1, teacher_model="smollm2-gguf",
                     meta={"sample": 1})]
    records = [{"parent_id": seeds[1].id, "status": "augmented", "reasons": ["duplicate: ...", "kept"]},
               {"parent_id": seeds[2].id, "status": "failed", "reasons": ["bad_json: ...", "duplicate: ..."]}]
    (run / "iter_0" / "teacher_records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    atomic_write_json(run / "iter_0" / "teacher_stats.json", {"kept": 1, "rejected": {"duplicate": 2, "bad_json": 1}})
    write_examples(run / "iter_1" / "train.jsonl", seeds + added)
    atomic_write_json(run / "results.json", {"status": "complete", "iterations": [
        {"iteration": 0, "test_accuracy": 0.5}, {"iteration": 1, "test_accuracy": 0.75}]})
    return run


@pytest.fixture
def run_dir(tmp_path, data_dir) -> Path:
    return make_run(tmp_path, data_dir)


def test_export_reads_back_with_the_run_dirs_examples_and_a_card(run_dir, capsys):
    from datasets import load_dataset, load_from_disk

    assert main([str(run_dir)]) == 0
    out = run_dir / "hf_dataset"
    dd = load_from_disk(str(out / "dataset"))
    assert sorted(dd) == ["iter_0", "iter_1"]
    for split in dd:
        want = read_examples(run_dir / split / "train.jsonl")
        got = dd[split].to_list()
        assert [Example(**{k: (tuple(r[k]) if k == "choices" and r[k] is not None else r[k])
                           for k in ("id", "text", "answer", "choices", "origin", "parent_id", "iteration",
                                     "teacher_model")}, meta=json.loads(r["meta"])) for r in got] == want
        assert [json.loads(r["meta"]) for r in got] == [e.meta for e in want]
        parquet = load_dataset("parquet", data_files=str(out / "data" / f"{split}.parquet"), split="train")
        assert parquet.to_list() == got
    teacher_rows = [r for r in dd["iter_1"].to_list() if r["origin"] == "teacher"]
    assert [(r["teacher_kept"], r["teacher_rejected"]) for r in teacher_rows] == [(1, 1)]
    assert all(r["teacher_kept"] is None for r in dd["iter_1"].to_list() if r["origin"] == "seed")
    card = (out / "README.md").read_text()
    env = json.loads((run_dir / "environment.json").read_text())
    for needle in ("license: unknown", "path: data/iter_1.parquet", "Task: `sst2`", "SST-2 (Socher et al. 2013)",
                   "no data licence stated", "Seed set: 4 examples drawn with seed 0", "Teacher: `",
                   "## Teacher prompt template (`classification.yaml`)", "## The run's config",
                   f"`{env['git_sha']}`", "| iter_1 | 5 | 4 | 1 | 1 / 3 | 0.7500 |"):
        assert needle in card, needle
    assert "wrote" in capsys.readouterr().out


def test_an_existing_export_is_never_overwritten(run_dir, capsys):
    out = run_dir / "elsewhere"
    assert main([str(run_dir), "--out", str(out)]) == 0
    before = (out / "README.md").read_text()
    (run_dir / "iter_1" / "train.jsonl").write_text((run_dir / "iter_0" / "train.jsonl").read_text())
    capsys.readouterr()
    assert main([str(run_dir), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "already exists" in err and len(err.strip().splitlines()) == 1
    assert (out / "README.md").read_text() == before


def test_not_a_run_dir_is_one_error_line(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_a_kept_record_without_text_is_one_error_line(run_dir, capsys):
    """What scripts/keep_runs.py keeps of a run (ids and text hashes) cannot be exported: say so."""
    from llm2llm.example import dumps_jsonl, text_sha1

    for train in run_dir.glob("iter_*/train.jsonl"):
        train.write_text(dumps_jsonl({"id": e.id, "origin": e.origin, "text_sha1": text_sha1(e.text)}
                                     for e in read_examples(train)))
    assert main([str(run_dir), "--out", str(run_dir.parent / "export")]) == 2
    err = capsys.readouterr().err
    assert "a kept record of a run" in err and "export the run directory it was kept from" in err
    assert len(err.strip().splitlines()) == 1 and not (run_dir.parent / "export").exists()


class FakeHfApi:
    """Stands in for huggingface_hub.HfApi: the Hub cannot be reached from tests (no network), so
    the upload is recorded instead of sent."""

    calls: list[tuple[str, dict]] = []

    def __init__(self, token=None):
        FakeHfApi.calls.append(("init", {"token": token}))

    def create_repo(self, repo_id, **kw):
        FakeHfApi.calls.append(("create_repo", {"repo_id": repo_id, **kw}))

    def upload_folder(self, **kw):
        files = sorted(str(p.relative_to(kw["folder_path"])) for p in Path(kw["folder_path"]).rglob("*")
                       if p.is_file() and any(p.match(g) for g in kw["allow_patterns"]))
        FakeHfApi.calls.append(("upload_folder", {**kw, "files": files}))


def test_push_to_hub_uploads_card_and_parquet(run_dir, monkeypatch, capsys):
    import huggingface_hub

    FakeHfApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_fake_token")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert main([str(run_dir), "--push-to-hub", "someone/llm2llm-sst2", "--private"]) == 0
    assert [c[0] for c in FakeHfApi.calls] == ["init", "create_repo", "upload_folder"]
    assert FakeHfApi.calls[0][1]["token"] == "hf_fake_token"
    assert FakeHfApi.calls[1][1] == {"repo_id": "someone/llm2llm-sst2", "repo_type": "dataset", "private": True,
                                     "exist_ok": True}
    up = FakeHfApi.calls[2][1]
    assert up["repo_type"] == "dataset" and up["files"] == ["README.md", "data/iter_0.parquet", "data/iter_1.parquet"]
    assert "https://huggingface.co/datasets/someone/llm2llm-sst2" in capsys.readouterr().out


def test_push_without_token_or_offline_is_a_clear_error(run_dir, monkeypatch, capsys):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert main([str(run_dir), "--out", str(run_dir / "a"), "--push-to-hub", "x/y"]) == 2
    assert "no Hugging Face token" in capsys.readouterr().err
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main([str(run_dir), "--out", str(run_dir / "b"), "--push-to-hub", "x/y"]) == 2
    assert "HF_HUB_OFFLINE" in capsys.readouterr().err


def test_the_card_names_every_commit_a_resumed_run_was_made_at(run_dir):
    env = json.loads((run_dir / "environment.json").read_text())
    atomic_write_json(run_dir / "environment.json", {**env, "earlier": [{**env, "git_sha": "0123abc"}, env]})
    assert main([str(run_dir), "--out", str(run_dir / "resumed")]) == 0
    card = (run_dir / "resumed" / "README.md").read_text()
    assert f"Commit of the harness: `{env['git_sha']}` (resumed; earlier work at `0123abc`);" in card
