"""scripts/study_oracle_sets.py on a hand-made study of one SST-2 seed set (real train texts): the
counts it prints are the ones built into the cells' training sets, whether the runs are full run
directories (with text) or what keep_runs kept of them (text_sha1 only)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from teacher_fixtures import load_split

ROOT = Path(__file__).resolve().parent.parent


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sets, keep_runs = _script("study_oracle_sets"), _script("keep_runs")


def _run(root: Path, cell: str, method: str, rows: list[dict], oracle: bool, matched: bool) -> None:
    run = root / "sst2" / "n4" / cell / "seed0"
    (run / "iter_0").mkdir(parents=True)
    config = {"task": {"name": "sst2"}, "method": {"name": method, "budget_from": "x" if matched else None},
              "teacher": {"backend": "oracle" if oracle else "llamacpp"}, "seed": 0, "student": {"name": "s"}}
    (run / "config.json").write_text(json.dumps(config))
    (run / "results.json").write_text(json.dumps({
        "status": "complete", "task": "sst2", "method": method, "seed": 0, "config": config,
        "iterations": [{"iteration": 0, "test_accuracy": 0.5, "added": 0}]}))
    (run / "iter_0" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "seed_set.jsonl").write_text("".join(json.dumps({"id": r["id"]}) + "\n" for r in rows if r["origin"] == "seed"))
    (run / "iter_0" / "predictions_test.jsonl").write_text(json.dumps({"id": "t", "correct": True}) + "\n")


def test_counts_of_a_hand_made_study(tmp_path, data_dir):
    _, train = load_split("sst2", "train")
    texts = {e.text: e for e in train}
    # a seed whose text holds a shorter train phrase (SST-2's train split holds cuts of its sentences)
    seed, piece = next((e, texts[c]) for e in train if len(e.text.split()) > 6
                       for c in (" ".join(e.text.split()[:k]) for k in range(2, len(e.text.split()))) if c in texts)
    others = [e for e in train if e.text not in seed.text and seed.text not in e.text][:3]
    pos, neg = (next(e for e in train[100:] if e.answer == label) for label in ("positive", "negative"))
    seeds = [seed] + others

    def row(e, origin="seed", parent=None, text=None, answer=None):
        return {"id": e.id if origin == "seed" else f"{e.id}-{origin}", "origin": origin, "parent_id": parent,
                "iteration": 0, "answer": answer or e.answer, "text": text or e.text}

    base = [row(e) for e in seeds]
    targeted = base + [row(piece, "teacher", seed.id, answer=seed.answer), row(pos, "teacher", others[0].id)]
    untargeted = base + [row(piece, "teacher", seed.id, answer=seed.answer), row(neg, "teacher", others[1].id)]
    eda = base + [row(seed, "eda", seed.id), row(seed, "eda", seed.id, text=seed.text + " indeed")]
    src = tmp_path / "runs"
    _run(src, "llm2llm_oracle", "llm2llm", targeted, oracle=True, matched=False)
    _run(src, "untargeted", "untargeted", untargeted, oracle=True, matched=True)
    _run(src, "eda", "eda", eda, oracle=False, matched=True)
    assert keep_runs.main([str(src), str(tmp_path / "kept")]) == 0
    assert "text" not in (tmp_path / "kept" / "sst2/n4/eda/seed0/iter_0/train.jsonl").read_text().replace("text_sha1", "")

    outs = []
    for root in (src, tmp_path / "kept"):
        out = tmp_path / f"{root.name}.md"
        assert sets.main([str(root), "--data-dir", str(data_dir), "--out", str(out)]) == 0
        outs.append(out.read_text().split("\n", 1)[1])
    assert outs[0] == outs[1]
    table = [line for line in outs[0].splitlines() if line.startswith("| 0 |")]
    assert table == ["| 0 | – / 2 / 2 / – / 2 | 1 of 2 | 1 of 2 / 1 of 2 | 1 of 2 | negative -1, positive +1 |"]


def test_no_study_runs_is_an_error(tmp_path, capsys, data_dir):
    (tmp_path / "empty").mkdir()
    assert sets.main([str(tmp_path / "empty"), "--data-dir", str(data_dir)]) == 2
    assert "error:" in capsys.readouterr().err
