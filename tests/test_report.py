"""The report on real run directories made by the harness: a tiny TREC sweep (finetune, EDA,
LLM2LLM x 2 seeds) with the real SmolLM2 student and teacher, then tables, plots and compare."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest
from scipy import stats as sps

from cli_helpers import train_env, train_py
from llm2llm import report
from llm2llm.stats import PairedTest, paired_difference, paired_test, t_interval

# A sweep file as in sweeps/: fixed settings here, the grid under hydra.sweeper.params.
SWEEP_FILE = """
defaults:
  - config
  - optional tiny@method: ${method}   # EDA: one rewrite per seed (tiny/eda.yaml)
  - override tracking: wandb
  - _self_
tracking: {group: tiny-trec, tags: [study]}
task: {name: trec, seed_size: 6, test_size: 12}
eval: {mode: score}
method: {iterations: 2}
trainer: {max_steps: 2, per_device_batch_size: 6}
teacher: {max_tokens: 40}
hydra:
  sweeper:
    params:
      method: finetune,eda,llm2llm
      seed: 0,1
"""


def train(tmp: Path, *args: str, runs: str = "runs", group: str = "tiny-trec") -> subprocess.CompletedProcess:
    (tmp / "sweeps").mkdir(exist_ok=True)
    (tmp / "sweeps" / "tiny_trec.yaml").write_text(SWEEP_FILE)
    (tmp / "sweeps" / "tiny").mkdir(exist_ok=True)
    (tmp / "sweeps" / "tiny" / "eda.yaml").write_text("num_aug: 1\n")
    (tmp / "wandb").mkdir(exist_ok=True)
    env = train_env(LLM2LLM_RUNS_DIR=str(tmp / runs), WANDB_MODE="offline", WANDB_DIR=str(tmp / "wandb"))
    return train_py("--config-dir", str(tmp / "sweeps"), "--config-name", "tiny_trec", *args,
                    f"teacher.cache_path={tmp / 'teacher_cache'}", f"tracking.group={group}", env=env, timeout=1800)


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
    assert (row.task, row.seed_size) == ("trec", "6")
    for method in table.methods:
        accs = finals(runs_dir, method)
        cell = row.cells[method]
        low, high = sps.t.interval(0.95, 1, loc=statistics.mean(accs), scale=sps.sem(accs)) \
            if len(set(accs)) > 1 else (accs[0], accs[0])
        assert cell.n == 2 and cell.mean == pytest.approx(statistics.mean(accs))
        assert (cell.low, cell.high) == (pytest.approx(low), pytest.approx(high))
    best = max(table.methods, key=lambda m: row.cells[m].mean)
    assert row.best == best
    md = (out / "table.md").read_text()
    assert f"**{report.format_cell(row.cells[best])}**" in md
    # Δ vs finetune: paired by seed, and the paired test on the predictions files of the last iteration.
    by_seed = {m: {json.loads(f.read_text())["seed"]: f.parent for f in runs_dir.glob(f"trec/n6/{m}/*/seed*/results.json")}
               for m in ("finetune", "llm2llm")}
    acc = {m: {s: 100 * json.loads((d / "results.json").read_text())["final_test_accuracy"] for s, d in by_seed[m].items()}
           for m in by_seed}
    delta = paired_difference(acc["llm2llm"], acc["finetune"])
    assert row.delta["llm2llm"].mean == pytest.approx(delta.mean)
    assert f"{delta.mean:+.1f}" in md
    def last_preds(d: Path) -> dict[str, bool]:  # the last iteration: iter_1 for LLM2LLM, iter_0 for finetune
        last = json.loads((d / "results.json").read_text())["iterations"][-1]["iteration"]
        return {r["id"]: r["correct"] for r in map(json.loads, (d / f"iter_{last}/predictions_test.jsonl").read_text().splitlines())}

    preds = {m: {s: last_preds(d) for s, d in by_seed[m].items()} for m in by_seed}
    test = paired_test(preds["llm2llm"], preds["finetune"])
    got = row.paired_test["llm2llm"]
    assert isinstance(got, PairedTest) and got.p == pytest.approx(test.p)
    assert (test.n_seeds, test.n_examples) == (2, 12) and report.format_p(test.p) in md
    csv_rows = (out / "table.csv").read_text().splitlines()
    assert csv_rows[0].startswith("task,seed_size,method,mean,ci_low,ci_high,n") and "p_paired" in csv_rows[0]
    assert len(csv_rows) == 4
    assert "Cost per run" in md and "teacher requests" in md
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
    # Its own W&B group: the tiny-trec group holds exactly the module sweep's six runs.
    proc = train(tmp, "-m", "method=eda", "seed=0,1", f"method.budget_from={source}/seed${{seed}}", runs="budget",
                 group="tiny-trec-budget")
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = report.build_table(report.find_runs([runs_dir, tmp / "budget"]))
    (row,) = table.rows
    assert "eda (budget-matched)" in table.methods and "eda" in table.methods
    matched = sorted((tmp / "budget").rglob("results.json"))
    assert len(matched) == 2
    accs = []
    for f in matched:
        res = json.loads(f.read_text())
        llm2llm = json.loads((source / f"seed{res['seed']}" / "results.json").read_text())
        budget = res["initial_augmentation"]["budget"]
        assert budget["total"] == llm2llm["total_augmented"] == res["total_augmented"]
        assert budget["source_seed"] == res["seed"]
        accs.append(100 * res["final_test_accuracy"])
    cell = row.cells["eda (budget-matched)"]
    assert cell.n == 2 and cell.mean == pytest.approx(statistics.mean(accs))
    assert cell.half_width == pytest.approx(t_interval(accs).half_width)
    # A budget from a run on another seed set (another seed size): one line, exit 2, nothing trained.
    bad = train(tmp, "method=eda", "seed=0", "task.seed_size=5", f"method.budget_from={source}/seed0", runs="bad",
                group="tiny-trec-budget")
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
    assert table.rows[0].cells["llm2llm"].n == 1
    assert "seeds differ" in report.format_delta(table.rows[0], "llm2llm")  # never paired over unequal seed sets
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


@pytest.mark.slow
def test_a_wandb_group_gives_the_same_statistics_as_the_run_dirs(runs_dir, monkeypatch):
    """W&B's servers cannot be reached here, so wandb.Api is replaced by one that serves the offline
    runs the sweep really logged, read from W&B's own transaction logs (tests/wandb_offline.py):
    the fake part is only the API object. The runs carry the group and tags a user filters and
    groups by in the W&B UI, and the report built from the group equals the one from the run dirs,
    paired intervals and paired-test p included."""
    import wandb

    from wandb_offline import OfflineApi

    api = OfflineApi(runs_dir.parent.parent / "wandb")
    logged = api.runs("me/llm2llm", {"group": "tiny-trec"})
    assert len(logged) == 6 and all(r.state == "finished" for r in logged)
    assert {next(t for t in r.tags if t.startswith("method:")) for r in logged} == \
        {"method:finetune", "method:eda", "method:llm2llm"}
    assert all("study" in r.tags and "task:trec" in r.tags for r in logged)
    assert {r.config["method"]["name"] for r in logged} == {"finetune", "eda", "llm2llm"}
    monkeypatch.setattr(wandb, "Api", lambda: api)
    from_wandb = report.build_table(report.wandb_runs("me/llm2llm", "tiny-trec"))
    from_dirs = report.build_table(report.find_runs([runs_dir]))
    assert from_wandb.methods == from_dirs.methods == ["finetune", "eda", "llm2llm"]
    (w,), (d,) = from_wandb.rows, from_dirs.rows
    for m in from_dirs.methods:
        assert w.cells[m] == d.cells[m]
    for m in ("eda", "llm2llm"):
        assert w.delta[m] == d.delta[m]
        assert isinstance(d.paired_test[m], PairedTest) and w.paired_test[m] == d.paired_test[m]
    assert report.to_markdown(from_wandb) == report.to_markdown(from_dirs)  # cost table included


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
