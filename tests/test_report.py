"""The report on real run directories made by the harness: a tiny TREC sweep (finetune, EDA,
LLM2LLM x 2 seeds) with the real SmolLM2 student and teacher, then tables, plots and compare."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from cli_helpers import train_env, train_py
from llm2llm import report
from llm2llm.stats import PairedBootstrap, bootstrap_variance, paired_bootstrap, paired_difference, t_interval

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
    # Δ vs finetune: paired by seed, and the paired bootstrap on the predictions files of the last iteration.
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
    test = paired_bootstrap(preds["llm2llm"], preds["finetune"])
    got = row.paired_test["llm2llm"]
    assert isinstance(got, PairedBootstrap) and got.p == pytest.approx(test.p)
    assert (test.n_seeds, test.n_examples) == (2, 12) and f"p={test.p:.3g}" in md
    csv_rows = (out / "table.csv").read_text().splitlines()
    assert csv_rows[0].startswith("task,seed_size,method,mean,ci_low,ci_high,n") and "p_bootstrap" in csv_rows[0]
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
        assert isinstance(d.paired_test[m], PairedBootstrap) and w.paired_test[m] == d.paired_test[m]
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


# --- A table from run directories written by hand in the layout the harness writes (no model) ---

TEST_IDS = [f"test-{i}" for i in range(10)]


def write_run(root: Path, method: str, seed: int, correct: list[bool], acc_first: float, *, ids=TEST_IDS,
              teacher: dict | None = None, added: int = 0) -> Path:
    """runs/<task>/n4/<method>/<student>/seed<k>/ with config.json, results.json, iter_<i>/metrics.json
    and iter_<i>/predictions_test.jsonl, as llm2llm/main.py and loop.py write them."""
    d = root / "trec" / "n4" / method / "smollm2-135m" / f"seed{seed}"
    config = {"task": {"name": "trec", "seed_size": 4}, "method": {"name": method}, "seed": seed}
    iterations = []
    for i, acc in enumerate([acc_first, sum(correct) / len(correct)]):
        rows = [{"id": ex, "output": "x", "prediction": "x", "correct": ok} for ex, ok in zip(ids, correct)]
        (d / f"iter_{i}").mkdir(parents=True)
        (d / f"iter_{i}" / "predictions_test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        metrics = {"iteration": i, "train_size": 4 + i * added, "n_augmented_total": i * added,
                   "added": added if i == 0 else 0, "test_accuracy": acc, "teacher": teacher if i == 0 and teacher else {},
                   "timings": {"train_s": 2.0, "eval_test_s": 1.0, **({"teacher_s": 3.0} if teacher and i == 0 else {})}}
        (d / f"iter_{i}" / "metrics.json").write_text(json.dumps(metrics))
        iterations.append(metrics)
    results = {"status": "complete", "seed": seed, "seed_size": 4, "test_size": len(ids), "initial_augmentation": {},
               "iterations": iterations, "total_augmented": added, "final_test_accuracy": iterations[-1]["test_accuracy"],
               "config": config}
    (d / "config.json").write_text(json.dumps(config))
    (d / "results.json").write_text(json.dumps(results))
    return d


def hand_runs(root: Path) -> None:
    """finetune and llm2llm on seeds 0, 1, 2; llm2llm gets 2, 2, 3 more of the 10 test examples right."""
    base = [[True] * 5 + [False] * 5, [True] * 4 + [False] * 6, [True] * 6 + [False] * 4]
    for seed, right in enumerate(base):
        write_run(root, "finetune", seed, right, 0.3)
        better = list(right)
        for _ in range((2, 2, 3)[seed]):  # turn the first wrong answers right
            better[better.index(False)] = True
        teacher = {"requests": 5 + seed, "prompt_tokens": 100, "completion_tokens": 50, "cost_usd": 0.01,
                   "generated": 4, "kept": 2 + seed}
        write_run(root, "llm2llm", seed, better, 0.3, teacher=teacher, added=2 + seed)


class TimedTeacher:
    """Stands in for the Teacher (no model here); its stats have the keys Teacher.rephrase reports."""

    def rephrase(self, examples, num_aug, existing, forbidden, iteration=0):
        out = [e.derive(id=f"{e.id}-auggpt-r{j}", text=f"{e.text} v{j}", origin="auggpt", parent_id=e.id)
               for e in examples for j in range(num_aug)]
        stats = {"requests": len(out), "prompt_tokens": 40 * len(out), "completion_tokens": 10 * len(out),
                 "cost_usd": 0.0, "wall_s": 1.5, "kept": len(out)}
        return type("Result", (), {"examples": out, "records": [], "stats": stats})()


def test_cost_counts_auggpts_d0_teacher(tmp_path):
    """AugGPT calls the teacher once, before training: its requests, tokens and time are in the cost
    (they once read 0, because the report looked for them one level too high)."""
    from baselines.auggpt import auggpt_augment
    from llm2llm.example import Example

    seeds = [Example(id=f"s{i}", text=f"sentence {i}", answer="positive") for i in range(3)]
    _, d0_stats = auggpt_augment(TimedTeacher(), seeds, [2, 1, 2])  # two calls: counts 1 and 2
    d = write_run(tmp_path / "runs", "auggpt", 0, [True] * 10, 0.3)
    results = json.loads((d / "results.json").read_text())
    results["initial_augmentation"] = d0_stats
    (d / "results.json").write_text(json.dumps(results))
    (run,) = report.find_runs([tmp_path / "runs"])
    cost = run.cost()
    assert cost.teacher_requests == 5 and cost.teacher_tokens == 5 * 50 and cost.teacher_kept == 5
    assert cost.wall_s == pytest.approx(2 * 3.0 + 2 * 1.5)  # two iterations' stages + two teacher calls


def test_table_from_hand_written_run_dirs(tmp_path):
    hand_runs(tmp_path / "runs")
    out = tmp_path / "out"
    assert report.main(["table", str(tmp_path / "runs"), "--out", str(out)]) == 0
    (row,) = report.build_table(report.find_runs([tmp_path / "runs"])).rows
    ft, ll = row.cells["finetune"], row.cells["llm2llm"]
    assert (ft.mean, ft.n) == (pytest.approx(50.0), 3) and ll.mean == pytest.approx(220 / 3)  # 70, 60, 90
    low, high = sps.t.interval(0.95, 2, loc=50.0, scale=10 / 3 ** 0.5)  # finetune 50, 40, 60: sd 10
    assert (ft.low, ft.high) == (pytest.approx(low), pytest.approx(high))
    d = row.delta["llm2llm"]  # differences 20, 20, 30 points: sd 10 / sqrt(3)
    low, high = sps.t.interval(0.95, 2, loc=70 / 3, scale=(100 / 3) ** 0.5 / 3 ** 0.5)
    assert (d.mean, d.low, d.high) == (pytest.approx(70 / 3), pytest.approx(low), pytest.approx(high)) and d.low > 0
    test = row.paired_test["llm2llm"]  # 2, 2 and 3 of the 10 shared test examples flipped right, none wrong
    flips = np.zeros((3, 10))
    flips[0, [5, 6]] = flips[1, [4, 5]] = flips[2, [6, 7, 8]] = 1
    se = bootstrap_variance(flips) ** 0.5 / 30
    hand_p = 2 * sps.t.sf((7 / 30) / se, 2)
    assert (test.diff, test.n_seeds, test.n_examples) == (pytest.approx(7 / 30), 3, 10)
    assert test.se == pytest.approx(se) and test.p == pytest.approx(hand_p)
    cost = row.cost["llm2llm"]
    assert cost.teacher_requests == pytest.approx(6.0) and cost.teacher_tokens == pytest.approx(150.0)
    assert cost.cost_usd == pytest.approx(0.01) and cost.examples_added == pytest.approx(3.0)
    assert cost.wall_s == pytest.approx(9.0)  # (train 2 + eval 1) x 2 iterations + teacher 3
    assert row.cost["finetune"].teacher_requests == 0
    assert (cost.teacher_generated, cost.teacher_kept) == (pytest.approx(4.0), pytest.approx(3.0))
    md = (out / "table.md").read_text()
    assert "50.0 ± 24.8 (n=3)" in md and f"+23.3 [{low:+.1f}, {high:+.1f}] p={hand_p:.3g} ▲" in md
    assert "95 % Student t interval" in md and "two-level paired bootstrap" in md and "| 3.0 / 4.0 (75 %) |" in md
    header, *lines = (out / "table.csv").read_text().splitlines()
    assert header.split(",")[:7] == ["task", "seed_size", "method", "mean", "ci_low", "ci_high", "n"]
    rec = dict(zip(header.split(","), lines[1].split(",")))
    assert rec["method"] == "llm2llm" and rec["win"] == "True" and float(rec["p_bootstrap"]) == pytest.approx(hand_p, rel=1e-5)
    assert float(rec["delta_ci_low"]) == pytest.approx(low, abs=1e-4)
    tex = (out / "table.tex").read_text()
    assert tex.count(r"\begin{tabular}") == 2 and r"\textbf{73.3 $\pm$" in tex and r"$\blacktriangle$" in tex
    # a bare % would start a LaTeX comment and swallow the rest of the row
    assert r"3.0 / 4.0 (75 \%)" in tex and "(75 %)" not in tex
    assert (out / "accuracy_per_iteration.png").read_bytes()[:4] == b"\x89PNG"


def test_one_seed_has_no_interval_and_no_win(tmp_path):
    write_run(tmp_path, "finetune", 0, [True] * 5 + [False] * 5, 0.3)
    write_run(tmp_path, "llm2llm", 0, [True] * 9 + [False], 0.3)
    (row,) = report.build_table(report.find_runs([tmp_path])).rows
    assert row.cells["llm2llm"].low is None and report.format_cell(row.cells["llm2llm"]) == "90.0 (n=1, no CI)"
    text = report.format_delta(row, "llm2llm")
    assert text.startswith("+40.0 (n=1, no CI) p=") and "▲" not in text


def test_different_test_sets_are_refused(tmp_path, capsys):
    write_run(tmp_path, "finetune", 0, [True] * 10, 0.3)
    write_run(tmp_path, "llm2llm", 0, [True] * 10, 0.3, ids=[f"other-{i}" for i in range(10)])
    assert report.main(["table", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: trec n=4 llm2llm vs finetune: seed 0: the test sets differ")
    assert not (tmp_path / "o" / "table.md").exists()


def test_baseline_other_than_finetune(tmp_path):
    """--baseline pairs every method with another one (e.g. LLM2LLM vs budget-matched EDA): the same
    numbers with the sign turned, and a loss marked where the interval lies below zero."""
    hand_runs(tmp_path / "runs")
    runs = report.find_runs([tmp_path / "runs"])
    (row,) = report.build_table(runs, baseline="llm2llm").rows
    d = row.delta["finetune"]
    assert d.mean == pytest.approx(-70 / 3) and d.high < 0 and "llm2llm" not in row.delta
    test, turned = row.paired_test["finetune"], report.build_table(runs).rows[0].paired_test["llm2llm"]
    assert test.diff == pytest.approx(-7 / 30) and (test.se, test.p) == (pytest.approx(turned.se), pytest.approx(turned.p))
    out = tmp_path / "out"
    assert report.main(["table", str(tmp_path / "runs"), "--out", str(out), "--baseline", "llm2llm"]) == 0
    md = (out / "table.md").read_text()
    assert "Δ finetune vs llm2llm" in md and "Δ llm2llm vs" not in md and "-23.3 [" in md and "▼" in md
    assert "delta_vs_llm2llm" in (out / "table.csv").read_text().splitlines()[0]
    assert report.main(["table", str(tmp_path / "runs"), "--out", str(out), "--baseline", "eda"]) == 2
    shutil.rmtree(tmp_path / "runs" / "trec" / "n4" / "finetune")  # no finetune runs: no Δ columns
    t = report.build_table(report.find_runs([tmp_path / "runs"]))
    assert "Δ" not in report.to_markdown(t).splitlines()[0]


def test_teacher_config_separates_runs_only_for_methods_that_use_one():
    """The report compares configs as the run directory does: the teacher counts where the method
    (by the method registry) calls one."""
    from llm2llm.report.table import comparable_config

    def cfg(method: str, max_tokens: int) -> dict:
        return {"task": {"name": "trec"}, "method": {"name": method}, "seed": 0, "teacher": {"max_tokens": max_tokens}}

    assert comparable_config(cfg("finetune", 1)) == comparable_config(cfg("finetune", 2))
    assert comparable_config(cfg("llm2llm", 1)) != comparable_config(cfg("llm2llm", 2))


def test_cost_columns_follow_the_cost_fields(tmp_path):
    """A cost statistic is one field of Cost: the CSV has a column per field, in order, and the mean
    over seeds is taken field by field."""
    hand_runs(tmp_path / "runs")
    table = report.build_table(report.find_runs([tmp_path / "runs"]))
    header = report.to_csv(table).splitlines()[0].split(",")
    assert header[-len(report.COST_KEYS):] == list(report.COST_KEYS)
    costs = [report.Cost(*(float(i + k) for i in range(len(report.COST_KEYS)))) for k in (0, 2)]
    assert report.mean_cost(costs) == report.Cost(*(float(i + 1) for i in range(len(report.COST_KEYS))))
    md_header = report.to_markdown(table).split("Cost per run (mean over seeds):\n\n")[1].splitlines()[0]
    assert md_header == "| " + " | ".join(["task", "seed size", "method", *(c.header for c in report.COST_COLUMNS)]) + " |"
