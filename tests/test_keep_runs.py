"""scripts/keep_runs.py on the real tiny end-to-end run (tests/e2e_run.py): what it keeps is read by
the report, by a budget-matched run and by a resumed sweep exactly as the run directory itself, and
it holds no example text and no weights."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from baselines.budget import per_seed_counts, read_budget
from llm2llm.curves import read_curve
from llm2llm.example import iter_jsonl, read_examples
from llm2llm.report import main as report_main

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("keep_runs", ROOT / "scripts" / "keep_runs.py")
keep_runs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(keep_runs)


def test_an_unfinished_run_is_not_kept(tmp_path):
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"task": {"name": "sst2"}, "method": {"name": "finetune"}}))
    (run / "results.json").write_text(json.dumps({"status": "running", "iterations": []}))
    assert keep_runs.main([str(tmp_path / "runs"), str(tmp_path / "kept")]) == 0
    assert not (tmp_path / "kept").exists()


def test_a_missing_source_is_an_error(tmp_path, capsys):
    assert keep_runs.main([str(tmp_path / "nowhere"), str(tmp_path / "kept")]) == 2
    assert "nowhere: no such directory" in capsys.readouterr().err


@pytest.mark.slow
def test_kept_run_reads_like_the_run(finished_run, tmp_path):
    from e2e_run import run_train

    src, _ = finished_run
    run, kept = src / "run", tmp_path / "kept"
    assert keep_runs.main([str(src), str(kept)]) == 0
    copy = kept / "run"

    # nothing but small JSON: no checkpoint weights, no example text, predictions as ids and verdicts
    files = [p for p in kept.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".json", ".jsonl"}
    kept_text = "\n".join(p.read_text() for p in files)
    seeds = read_examples(run / "seed_set.jsonl")
    assert len(seeds) == 6 and not any(s.text in kept_text for s in seeds)
    tested = [row for _, row in iter_jsonl(copy / "iter_1" / "predictions_test.jsonl")]
    assert [(r["id"], r["correct"]) for _, r in iter_jsonl(run / "iter_1" / "predictions_test.jsonl")] == \
        [(r["id"], r["correct"]) for r in tested] and len(tested) == 8
    assert all(set(r) == {"id", "correct"} for r in tested)
    for it in (0, 1):  # the training sets: each example's provenance and label, not its text
        trained = [r for _, r in iter_jsonl(run / f"iter_{it}" / "train.jsonl")]
        assert [r for _, r in iter_jsonl(copy / f"iter_{it}" / "train.jsonl")] == \
            [{**{k: r.get(k) for k in ("id", "origin", "parent_id", "iteration", "answer")},
              "text_sha1": hashlib.sha1(r["text"].encode()).hexdigest()[:16]} for r in trained]
    assert {r["origin"] for _, r in iter_jsonl(copy / "iter_1" / "train.jsonl")} == {"seed", "teacher"}
    assert [json.loads(line)["id"] for line in (copy / "seed_set.jsonl").read_text().splitlines()] == \
        [s.id for s in seeds]

    # the report: the same tables, the same training curves
    for root, out in ((src, tmp_path / "from_run"), (kept, tmp_path / "from_kept")):
        assert report_main(["table", str(root), "--out", str(out)]) == 0
    for name in ("table.md", "table.csv", "table.tex"):
        assert (tmp_path / "from_kept" / name).read_text() == (tmp_path / "from_run" / name).read_text()
    for it in (0, 1):
        curve = read_curve(run / f"iter_{it}" / "checkpoint")
        assert curve and read_curve(copy / f"iter_{it}" / "checkpoint") == curve

    # a budget-matched run reads the same budget, spread the same way
    assert read_budget(copy, expect_task="sst2", expect_seed=0).total == read_budget(run, expect_task="sst2",
                                                                                      expect_seed=0).total
    assert per_seed_counts(seeds, 9, str(copy), seed=0, task="sst2", expect_seed=0) == \
        per_seed_counts(seeds, 9, str(run), seed=0, task="sst2", expect_seed=0)

    # a second keep writes nothing; a sweep restored from what was kept skips the finished run
    assert keep_runs.main([str(src), str(kept)]) == 0
    assert sorted(p.stat().st_mtime_ns for p in files) == sorted(p.stat().st_mtime_ns for p in kept.rglob("*")
                                                                 if p.is_file())
    restored = tmp_path / "restored"
    shutil.copytree(copy, restored / "run")
    proc = run_train(restored)
    assert "already complete" in proc.stdout
    for name in ("results.json", "environment.json"):
        assert (restored / "run" / name).read_text() == (run / name).read_text()
