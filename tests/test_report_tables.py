"""The report on run directories written by hand in the layout the harness writes (no model): the
statistics, the cost table and the three renderings checked against numbers computed here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from llm2llm import report

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
    # By hand: seed means .2, .2, .3 (MS_seed 1/30); example means 1/3, 2/3, 2/3, 1/3, 1/3 on examples 4-8,
    # 0 elsewhere (MS_example 61/270); MS_interaction 49/270. The seed component is truncated (MS_seed <
    # MS_interaction), so var = MS_example / (3 x 10) = 61/8100 with Satterthwaite df = 9.
    se = (61 / 8100) ** 0.5
    hand_p = 2 * sps.t.sf((7 / 30) / se, 9)
    assert hand_p == pytest.approx(0.02485, abs=1e-5)
    assert (test.diff, test.n_seeds, test.n_examples) == (pytest.approx(7 / 30), 3, 10)
    assert test.se == pytest.approx(se) and test.df == pytest.approx(9) and test.p == pytest.approx(hand_p)
    cost = row.cost["llm2llm"]
    assert cost.teacher_requests == pytest.approx(6.0) and cost.teacher_tokens == pytest.approx(150.0)
    assert cost.cost_usd == pytest.approx(0.01) and cost.examples_added == pytest.approx(3.0)
    assert cost.wall_s == pytest.approx(9.0)  # (train 2 + eval 1) x 2 iterations + teacher 3
    assert row.cost["finetune"].teacher_requests == 0
    assert (cost.teacher_generated, cost.teacher_kept) == (pytest.approx(4.0), pytest.approx(3.0))
    md = (out / "table.md").read_text()
    assert "50.0 ± 24.8 (n=3)" in md and f"+23.3 [{low:+.1f}, {high:+.1f}] p={hand_p:.3g} ▲" in md
    assert "95 % Student t interval" in md and "Satterthwaite" in md and "| 3.0 / 4.0 (75 %) |" in md
    header, *lines = (out / "table.csv").read_text().splitlines()
    assert header.split(",")[:7] == ["task", "seed_size", "method", "mean", "ci_low", "ci_high", "n"]
    rec = dict(zip(header.split(","), lines[1].split(",")))
    assert rec["method"] == "llm2llm" and rec["verdict"] == "win" and float(rec["p_paired"]) == pytest.approx(hand_p, rel=1e-5)
    assert float(rec["delta_ci_low"]) == pytest.approx(low, abs=1e-4)
    tex = (out / "table.tex").read_text()
    assert tex.count(r"\begin{tabular}") == 2 and r"\textbf{73.3 $\pm$" in tex and r"$\blacktriangle$" in tex
    # a bare % would start a LaTeX comment and swallow the rest of the row
    assert r"3.0 / 4.0 (75 \%)" in tex and "(75 %)" not in tex
    assert (out / "accuracy_per_iteration.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_series_in_percent_clipped_and_in_column_order(tmp_path):
    """The plotted numbers: accuracy in % like the table, a t band that over three seeds reaches below
    0 % stops at 0 %, methods in the table's column order, a single-training method as one point."""
    hand_runs(tmp_path)
    for seed, first in enumerate((0.0, 0.0, 0.3)):
        write_run(tmp_path, "eda", seed, [True] * 5 + [False] * 5, first)
    for seed in range(3):  # one training only, on LLM2LLM's budget, as the budget-matched controls
        d = write_run(tmp_path, "random_extra", seed, [True] * 7 + [False] * 3, 0.7)
        res = json.loads((d / "results.json").read_text())
        res["iterations"] = res["iterations"][:1]
        res["config"]["method"]["budget_from"] = "llm2llm-runs"
        res["initial_augmentation"] = {"budget": {"total": 3, "source_method": "llm2llm"}}
        (d / "results.json").write_text(json.dumps(res))
        (d / "config.json").write_text(json.dumps(res["config"]))
    runs = report.find_runs([tmp_path])
    (panel, lines), = report.plots.series(runs, report.plots.ACCURACY).items()
    assert panel == ("trec", "4")
    assert [s.method for s in lines] == ["finetune", "eda", "llm2llm", "random_extra (budget-matched)"]
    eda = lines[1]
    assert eda.iterations == [0, 1] and eda.mean[0] == pytest.approx(10.0) and eda.n == [3, 3]
    raw = sps.t.interval(0.95, 2, loc=10.0, scale=sps.sem([0.0, 0.0, 30.0]))
    assert raw[0] < 0 and eda.low[0] == 0.0 and eda.high[0] == pytest.approx(raw[1])
    llm2llm = lines[2]
    assert llm2llm.mean[1] == pytest.approx(100 * np.mean([7 / 10, 6 / 10, 9 / 10]))
    assert lines[3].iterations == [0] and lines[3].mean == [pytest.approx(70.0)]
    assert lines[3].budget_matched and not any(s.budget_matched for s in lines[:3])  # drawn at the last iteration
    (_, sizes), = report.plots.series(runs, report.plots.DATA_GROWTH).items()
    assert sizes[2].mean == [4.0, pytest.approx(4 + np.mean([2, 3, 4]))]
    (tmp_path / "out").mkdir()
    paths = report.plot(runs, tmp_path / "out")
    assert [p.name for p in paths] == ["accuracy_per_iteration.png", "data_growth.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)


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
    assert report.main(["table", str(tmp_path / "runs"), "--out", str(out), "--baseline", "llm2llm", "--no-plots"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["table.csv", "table.md", "table.tex"]
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


@pytest.mark.parametrize("targeted", [True, False])
def test_cost_counts_the_wrong_seeds_sent_to_the_teacher(tmp_path, targeted):
    """How selective targeting was: the wrong seeds sent to the teacher out of the seeds evaluated,
    over the iterations that augmented (not the last one, which only evaluates); none for the
    untargeted ablation, which sends every seed."""
    for seed, wrong in enumerate(((4, 2), (3, 1))):
        d = write_run(tmp_path, "llm2llm", seed, [True] * 10, 0.3, teacher={"requests": 1, "kept": 1}, added=1)
        results = json.loads((d / "results.json").read_text())
        results["config"]["method"]["targeted"] = targeted
        results["iterations"][0].update(n_wrong=wrong[0], n_seed=4)
        results["iterations"][1].update(n_wrong=wrong[1], n_seed=4)  # no teacher after the last
        (d / "results.json").write_text(json.dumps(results))
        (d / "config.json").write_text(json.dumps(results["config"]))
    table = report.build_table(report.find_runs([tmp_path]))
    cost = table.rows[0].cost["llm2llm"]
    md = report.to_markdown(table)
    if targeted:
        assert (cost.seeds_targeted, cost.seeds_evaluated) == (pytest.approx(3.5), pytest.approx(4.0))
        assert "| 3.5 / 4.0 (88 %) |" in md
    else:
        assert (cost.seeds_targeted, cost.seeds_evaluated) == (0.0, 0.0)
        assert "(88 %)" not in md


@pytest.mark.parametrize("recorded", [True, False])
def test_budget_matched_runs_from_different_teachers_are_not_averaged(tmp_path, recorded):
    """Two EDA runs matched to LLM2LLM runs of different teachers are two cells, not one: the source's
    teacher is recorded with the budget (recorded=True) or, for a run made before it was, read from
    the source's results.json (recorded=False)."""
    def matched(root, teachers):
        for seed, teacher in enumerate(teachers):
            src = write_run(root / "src", "llm2llm", seed, [True] * 10, 0.3, added=2)
            res = json.loads((src / "results.json").read_text())
            res.update(method="llm2llm", teacher=teacher, student="smollm2-135m")
            (src / "results.json").write_text(json.dumps(res))
            d = write_run(root / "runs", "eda", seed, [True] * 10, 0.3, added=2)
            res = json.loads((d / "results.json").read_text())
            res["config"]["method"]["budget_from"] = str(src)
            budget = {"total": 2, "source": str(src / "results.json"), "source_method": "llm2llm",
                      "source_task": "trec", "source_seed": seed, "source_iterations": 2}
            if recorded:
                budget.update(source_teacher=teacher, source_student="smollm2-135m")
            res["initial_augmentation"] = {"budget": budget}
            (d / "results.json").write_text(json.dumps(res))
            (d / "config.json").write_text(json.dumps(res["config"]))
        return report.find_runs([root / "runs"])

    same = report.build_table(matched(tmp_path / "same", ["oracle", "oracle"]))
    assert same.rows[0].cells["eda (budget-matched)"].n == 2
    with pytest.raises(report.ReportError, match="method.budget_from.source_teacher"):
        report.build_table(matched(tmp_path / "mixed", ["oracle", "local-smollm2-llamacpp"]))


def test_a_win_needs_the_interval_and_the_paired_test(tmp_path):
    """Both seeds gain the same one of 12 test examples: the t interval over seeds has no width
    ([+8.3, +8.3]) but one example is no evidence (p = 0.339, a paired t over the examples, 11 df):
    no mark, in the table or the CSV."""
    ids = [f"t{i}" for i in range(12)]
    for seed in (0, 1):
        write_run(tmp_path, "finetune", seed, [True] * 6 + [False] * 6, 0.3, ids=ids)
        write_run(tmp_path, "llm2llm", seed, [True] * 7 + [False] * 5, 0.3, ids=ids)
    table = report.build_table(report.find_runs([tmp_path]))
    (row,) = table.rows
    d, test = row.delta["llm2llm"], row.paired_test["llm2llm"]
    assert (d.low, d.high) == (pytest.approx(100 / 12), pytest.approx(100 / 12))
    assert test.df == pytest.approx(11) and test.p == pytest.approx(2 * sps.t.sf(1.0, 11))
    assert row.verdict("llm2llm") == "" and report.format_delta(row, "llm2llm") == "+8.3 [+8.3, +8.3] p=0.339"
    rec = dict(zip(*[line.split(",") for line in report.to_csv(table).splitlines()[:3:2]]))
    assert rec["method"] == "llm2llm" and rec["verdict"] == ""


def test_methods_run_on_different_setups_are_not_compared(tmp_path):
    """finetune evaluated one way and LLM2LLM another are not one row: the report names the key."""
    hand_runs(tmp_path)
    for d in (tmp_path / "trec/n4").glob("*/smollm2-135m/seed*"):
        for name in ("config.json", "results.json"):
            data = json.loads((d / name).read_text())
            (data.get("config") or data)["eval"] = {"mode": "score" if "llm2llm" in str(d) else "generate"}
            (d / name).write_text(json.dumps(data))
    with pytest.raises(report.ReportError, match=r"trec n=4: the finetune and llm2llm runs differ in eval.mode"):
        report.build_table(report.find_runs([tmp_path]))


def test_a_budget_matched_run_that_fell_short_is_named(tmp_path):
    """An AugGPT-style control that kept 2 of its budget of 3: averaged as it is, and named under the
    table with what it added; one that met its budget is not."""
    for seed, added in ((0, 2), (1, 3)):
        d = write_run(tmp_path, "auggpt", seed, [True] * 10, 0.3, added=added)
        res = json.loads((d / "results.json").read_text())
        res["config"]["method"]["budget_from"] = "llm2llm-runs"
        res["initial_augmentation"] = {"budget": {"total": 3, "source_method": "llm2llm"}}
        res["total_augmented"] = added
        (d / "results.json").write_text(json.dumps(res))
        (d / "config.json").write_text(json.dumps(res["config"]))
    runs = report.find_runs([tmp_path])
    assert sorted((r.seed, r.budget_shortfall) for r in runs) == [(0, (2, 3)), (1, None)]
    md = report.to_markdown(report.build_table(runs))
    note = md.split("fewer examples than their budget")[1]
    assert "seed0: 2 of 3" in note and "seed1" not in note


def test_no_mark_without_per_example_predictions(tmp_path):
    """Runs whose predictions files are gone keep their paired t interval (above zero here) but get no
    paired test, and so no ▲: a mark needs both."""
    hand_runs(tmp_path)
    for f in tmp_path.rglob("predictions_test.jsonl"):
        f.unlink()
    (row,) = report.build_table(report.find_runs([tmp_path])).rows
    assert row.delta["llm2llm"].low > 0 and row.paired_test["llm2llm"] == "no per-example predictions"
    assert row.verdict("llm2llm") == "" and report.format_delta(row, "llm2llm").endswith("(p: no per-example predictions)")


def test_a_control_is_never_the_rows_best(tmp_path):
    """The oracle teacher and random extra data get every test example right here, yet the bold mark
    goes to the best method that is not a control (llm2llm with its own teacher)."""
    hand_runs(tmp_path / "runs")
    for seed in range(3):
        write_run(tmp_path / "controls", "random_extra", seed, [True] * 10, 0.3, added=2)
        oracle = write_run(tmp_path / "oracle", "llm2llm", seed, [True] * 10, 0.3, added=2)
        config = json.loads((oracle / "config.json").read_text())
        (oracle / "config.json").write_text(json.dumps({**config, "teacher": {"backend": "oracle"}}))
    runs = report.find_runs([tmp_path / "runs", tmp_path / "controls", tmp_path / "oracle"])
    assert sorted(r.method for r in runs if r.control) == ["llm2llm (oracle teacher)"] * 3 + ["random_extra"] * 3
    (row,) = report.build_table(runs).rows
    assert row.cells["random_extra"].mean == row.cells["llm2llm (oracle teacher)"].mean == 100
    assert row.best == "llm2llm"
    md = report.to_markdown(report.build_table(runs))
    assert f"**{report.format_cell(row.cells['llm2llm'])}**" in md and "**100.0" not in md
    only_controls = report.find_runs([tmp_path / "controls"])
    assert report.build_table(only_controls).rows[0].best == ""
