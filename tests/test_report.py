"""The report on real run directories made by the harness: a tiny TREC sweep (finetune, EDA,
LLM2LLM x 2 seeds) with the real SmolLM2 student and teacher, then tables, plots and compare."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from llm2llm import report

ROOT = Path(__file__).resolve().parent.parent
# A sweep file as in sweeps/: fixed settings here, the grid under hydra.sweeper.params.
SWEEP_FILE = """
defaults:
  - config
  - override tracking: none
  - _self_
task: {name: trec, seed_size: 6, test_size: 12, eval_mode: score}
method: {iterations: 2, num_aug: 1}
trainer: {max_steps: 2, per_device_batch_size: 6}
teacher: {max_tokens: 40}
hydra:
  sweeper:
    params:
      method: finetune,eda,llm2llm
      seed: 0,1
"""


def train(tmp: Path, *args: str, runs: str = "runs") -> subprocess.CompletedProcess:
    (tmp / "sweeps").mkdir(exist_ok=True)
    (tmp / "sweeps" / "tiny_trec.yaml").write_text(SWEEP_FILE)
    env = dict(os.environ, LLM2LLM_RUNS_DIR=str(tmp / runs))
    cmd = [sys.executable, "train.py", "--config-dir", str(tmp / "sweeps"), "--config-name", "tiny_trec", *args,
           f"teacher.cache_path={tmp / 'teacher_cache'}"]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory, data_dir) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    proc = train(tmp, "-m")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return tmp / "runs" / "tiny_trec"


def finals(runs_dir: Path, method: str) -> list[float]:
    files = sorted(runs_dir.glob(f"trec/n6/{method}/*/seed*/results.json"))
    assert len(files) == 2, files
    return [100 * json.loads(f.read_text())["final_test_accuracy"] for f in files]


@pytest.mark.slow
def test_table_matches_the_results_files(runs_dir, tmp_path):
    out = tmp_path / "report"
    assert report.main(["table", str(runs_dir), "--out", str(out)]) == 0
    table = report.build_table(report.find_runs([runs_dir]))
    assert table.methods == ["finetune", "eda", "llm2llm"]
    (row,) = table.rows
    assert (row["task"], row["seed_size"]) == ("trec", "6")
    for method in table.methods:
        accs = finals(runs_dir, method)
        mean, std, n = row["cells"][method]
        assert n == 2 and mean == pytest.approx(statistics.mean(accs)) and std == pytest.approx(statistics.stdev(accs))
    best = max(table.methods, key=lambda m: row["cells"][m][0])
    assert row["best"] == best
    md = (out / "table.md").read_text()
    assert f"**{report._fmt(row['cells'][best])}**" in md
    delta = statistics.mean(finals(runs_dir, "llm2llm")) - statistics.mean(finals(runs_dir, "finetune"))
    assert f"{delta:+.1f}" in md
    csv_rows = (out / "table.csv").read_text().splitlines()
    assert csv_rows[0].startswith("task,seed_size,method,mean,std,n") and len(csv_rows) == 4
    tex = (out / "table.tex").read_text()
    assert r"\begin{tabular}" in tex and r"\textbf{" in tex
    for png in ("accuracy_per_iteration.png", "data_growth.png"):
        data = (out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


@pytest.mark.slow
def test_budget_matched_eda_is_averaged_over_seeds(runs_dir):
    """EDA given exactly what each seed's LLM2LLM run added: one sweep, budget_from follows the seed."""
    tmp = runs_dir.parent.parent
    source = runs_dir / "trec/n6/llm2llm/smollm2-135m"
    proc = train(tmp, "-m", "method=eda", "seed=0,1", f"method.budget_from={source}/seed${{seed}}", runs="budget")
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = report.build_table(report.find_runs([runs_dir, tmp / "budget"]))
    (row,) = table.rows
    assert "eda (budget-matched)" in table.methods and "eda" in table.methods
    matched = sorted((tmp / "budget").rglob("results.json"))
    assert len(matched) == 2
    accs, budgets = [], []
    for f in matched:
        res = json.loads(f.read_text())
        llm2llm = json.loads((source / f"seed{res['seed']}" / "results.json").read_text())
        budget = res["initial_augmentation"]["budget"]
        assert budget["total"] == llm2llm["total_augmented"] == res["total_augmented"]
        assert budget["source_seed"] == res["seed"]
        accs.append(100 * res["final_test_accuracy"])
    assert row["cells"]["eda (budget-matched)"] == (pytest.approx(statistics.mean(accs)),
                                                    pytest.approx(statistics.stdev(accs)), 2)
    # A budget from a run on another seed set (another seed size): one line, exit 2, nothing trained.
    bad = train(tmp, "method=eda", "seed=0", "task.seed_size=5", f"method.budget_from={source}/seed0", runs="bad")
    assert bad.returncode == 2 and "another seed set" in bad.stderr.strip().splitlines()[-1]
    assert not list((tmp / "bad").rglob("checkpoint"))


@pytest.mark.slow
def test_reference_column(runs_dir, tmp_path):
    ref = tmp_path / "ref.yaml"
    ref.write_text("trec:\n  6: {llm2llm: 42.0}\n")
    out = tmp_path / "r"
    assert report.main(["table", str(runs_dir), "--out", str(out), "--reference", str(ref)]) == 0
    assert "paper" in (out / "table.md").read_text() and "llm2llm: 42.0" in (out / "table.md").read_text()


@pytest.mark.slow
def test_partial_runs_are_shown_never_averaged(runs_dir, tmp_path):
    copy = tmp_path / "runs"
    shutil.copytree(runs_dir, copy)
    crashed = next(copy.glob("trec/n6/llm2llm/*/seed1"))
    (crashed / "results.json").unlink()
    table = report.build_table(report.find_runs([copy]))
    assert table.rows[0]["cells"]["llm2llm"][2] == 1
    assert [r.path for r in table.partial] == [str(crashed)]
    md = report.to_markdown(table)
    assert "Partial runs" in md and str(crashed) in md
    assert "PARTIAL" in report.compare(report.find_runs([copy]))


@pytest.mark.slow
def test_refuses_to_average_runs_whose_configs_differ(runs_dir, tmp_path):
    copy = tmp_path / "runs"
    shutil.copytree(runs_dir, copy)
    other = next(copy.glob("trec/n6/finetune/*/seed1"))
    for name in ("config.json", "results.json"):
        data = json.loads((other / name).read_text())
        cfg = data if name == "config.json" else data["config"]
        cfg["trainer"]["learning_rate"] = 1.0
        (other / name).write_text(json.dumps(data))
    with pytest.raises(report.ReportError, match="trainer.learning_rate"):
        report.build_table(report.find_runs([copy]))
    assert report.main(["table", str(copy), "--out", str(tmp_path / "o")]) == 2


@pytest.mark.slow
def test_compare_lists_differences_and_metrics(runs_dir):
    text = report.compare(report.find_runs([runs_dir / "trec" / "n6" / "llm2llm"]))
    assert text.startswith("2 runs; keys that differ: seed")
    assert "final=" in text and "best=" in text


def test_missing_run_dir_is_a_clear_error(tmp_path, capsys):
    assert report.main(["table", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "no such run directory" in capsys.readouterr().err


def test_empty_wandb_group_is_a_clear_error(monkeypatch, capsys, tmp_path):
    """W&B's cloud API cannot be reached here: this one test replaces wandb.Api with a fake that
    returns no runs, to check the message; the local path above is tested on real run dirs."""
    import wandb

    class FakeApi:
        def runs(self, project, filters=None):
            return []

    monkeypatch.setattr(wandb, "Api", FakeApi)
    assert report.main(["table", "--wandb", "me/llm2llm", "--group", "g", "--out", str(tmp_path)]) == 2
    assert "has no runs in group 'g'" in capsys.readouterr().err
