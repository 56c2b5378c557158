"""The positive control's cells: the untargeted and random-extra controls add exactly the budget of
the matching LLM2LLM run, and budget matching finds that run whatever override suffix a sweep gave
its directory. Real TREC data; the oracle teacher in-process; the slow test runs the real study
sweep file (sweeps/study_oracle_trec.yaml) with tiny steps and the tiny random student (conftest.py):
it is about the sweep's matching, and a random student leaves every seed wrong, so there is a budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from baseline_fixtures import write_results
from omegaconf import OmegaConf
from teacher_fixtures import load_split

from baselines.budget import find_matched_run, read_budget
from llm2llm.config import Config, OracleTeacherConfig, TaskConfig
from llm2llm.methods import method_schemas
from llm2llm.errors import ConfigError
from llm2llm.methods import get_method
from llm2llm.sampling import seed_set
from llm2llm.teacher import Teacher

ROOT = Path(__file__).resolve().parent.parent


def test_the_matched_run_is_found_under_any_override_suffix_and_by_teacher(tmp_path):
    seed_dir = tmp_path / "trec/n24/llm2llm/smollm2-135m/seed3"
    a = write_results(seed_dir / "+cell=llm2llm,task.test_size=null" / "results.json", added=[4, 2], task="trec",
                      seed=3, teacher="local-smollm2-llamacpp", student="smollm2-135m")
    b = write_results(seed_dir / "+cell=llm2llm_oracle,task.test_size=null" / "results.json", added=[5, 1, 1],
                      task="trec", seed=3, teacher="oracle", student="smollm2-135m")
    assert find_matched_run(seed_dir, "trec", 3, teacher="oracle") == b.parent
    assert read_budget(seed_dir, "trec", 3, teacher="local-smollm2-llamacpp").source == a
    assert read_budget(seed_dir, "trec", 3, teacher="oracle").total == 7
    with pytest.raises(ConfigError, match="2 LLM2LLM runs for task trec, seed 3 under .*set method.budget_teacher"):
        find_matched_run(seed_dir, "trec", 3)
    with pytest.raises(ConfigError, match="no LLM2LLM run with a results.json for task trec, seed 4"):
        read_budget(tmp_path / "trec/n24/llm2llm/smollm2-135m", "trec", 4, teacher="oracle")
    # a direct path to a run directory still works as before
    assert read_budget(a.parent, "trec", 3).total == 6


def control_cfg(method: str, budget_from: Path, tmp_path: Path) -> Config:
    cfg = OmegaConf.structured(Config)
    cfg.task = OmegaConf.structured(TaskConfig(name="trec", seed_size=24))
    cfg.method = OmegaConf.structured(method_schemas()[method](name=method, budget_from=str(budget_from), budget_teacher="oracle"))
    cfg.student.name = "smollm2-135m"
    cfg.seed = 3
    return cfg


@pytest.mark.parametrize("method", ["untargeted", "random_extra"])
def test_controls_add_exactly_the_matched_budget_and_never_a_seed_or_test_text(method, tmp_path):
    task, train = load_split("trec", "train")
    _, test = load_split("trec", "test")
    seeds = seed_set(train, 24, 3, True)
    run = tmp_path / "llm2llm-oracle"
    write_results(run / "results.json", added=[9, 4], task="trec", seed=3, teacher="oracle", n_seed=24,
                  student="smollm2-135m",
                  config={"task": {"test_size": None, "test_subset_seed": 0}})
    (run / "seed_set.jsonl").write_text("".join(json.dumps({"id": e.id}) + "\n" for e in seeds))
    cfg = control_cfg(method, tmp_path, tmp_path)
    cfg.task.test_size = None
    teacher = Teacher(OracleTeacherConfig(name="oracle", cache_path=str(tmp_path / "cache")), task, str(tmp_path), run_seed=3)
    runs = []
    for _ in range(2):
        d0, stats = get_method(method).initial_training_set(cfg, seeds, train, test, teacher)
        runs.append([(e.id, e.text) for e in d0])
    added = d0[len(seeds):]
    assert d0[:len(seeds)] == seeds and len(added) == 13 == stats["budget"]["total"]
    assert stats["budget"]["source_seed"] == 3 and stats["budget"]["source"] == str(run / "results.json")
    assert (stats["budget"]["source_teacher"], stats["budget"]["source_student"]) == ("oracle", "smollm2-135m")
    seed_texts, test_texts = {e.text for e in seeds}, {e.text for e in test}
    assert not any(e.text in seed_texts or e.text in test_texts for e in added)
    assert len({e.text for e in added}) == 13
    assert runs[0] == runs[1]  # deterministic for the run seed
    if method == "untargeted":  # the teacher's statistics where the cost table reads AugGPT's
        assert stats["teacher"]["kept"] == 13 and stats["teacher"]["cost_usd"] == 0.0 and stats["shortfall"] == 0
        by_id = {s.id: s for s in seeds}
        assert all(e.origin == "teacher" and e.answer == by_id[e.parent_id].answer for e in added)
        assert len({e.parent_id for e in added}) == 13  # 13 of the 24 seeds, one each: random, not the wrong ones
    else:
        train_by_text = {e.text: e for e in train}
        assert all(e.origin == "pool" and train_by_text[e.text].answer == e.answer for e in added)
    teacher.close()


@pytest.mark.slow
def test_study_sweep_with_an_extra_override_matches_every_job_to_its_own_seed(tmp_path, data_dir, tiny_llama):
    """The study file as a researcher re-runs it with extra command-line overrides: each one lands in
    every run directory's name, and every budget-matched job still finds its own seed's LLM2LLM run."""
    runs = tmp_path / "runs"
    env = dict(os.environ, WANDB_MODE="offline", LLM2LLM_RUNS_DIR=str(runs), OMP_NUM_THREADS="2")
    # The student as a researcher adds one: a file in a config group on Hydra's search path.
    (tmp_path / "conf" / "student").mkdir(parents=True)
    (tmp_path / "conf" / "student" / "tiny-llama.yaml").write_text(
        f"name: tiny-llama\nmodel: {tiny_llama}\nlora: {{target_modules: [q_proj, v_proj]}}\n")
    cmd = [sys.executable, "train.py", "-m", "--config-dir", "sweeps", "--config-name", "study_oracle_trec",
           "+cell=llm2llm_oracle,untargeted_oracle,random_extra", "seed=0,1", "task.seed_size=6", "task.test_size=6",
           "method.iterations=2", "trainer.max_steps=1", "trainer.per_device_batch_size=6", "tracking=none",
           f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "student=tiny-llama",
           f"teacher.cache_path={tmp_path / 'teacher_cache'}"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {}
    for f in runs.rglob("results.json"):
        r = json.loads(f.read_text())
        results[(r["method"], r["seed"])] = (f, r)
    assert sorted(results) == sorted((m, s) for m in ("llm2llm", "untargeted", "random_extra") for s in (0, 1))
    for seed in (0, 1):
        source, llm2llm = results[("llm2llm", seed)]
        assert "task.test_size=6" in str(source) and llm2llm["teacher"] == "oracle"
        assert llm2llm["total_augmented"] > 0, "the random student got every seed right: nothing to match"
        for method in ("untargeted", "random_extra"):
            _, r = results[(method, seed)]
            budget = r["initial_augmentation"]["budget"]
            assert budget["source"] == str(source) and budget["source_seed"] == seed
            assert budget["total"] == llm2llm["total_augmented"] == r["total_augmented"]

    # The runs moved to other storage (the matched runs' configs name the old paths): the same sweep
    # there finds every run complete, and the matched ones are matched to the same runs as before.
    moved = tmp_path / "moved"
    runs.rename(moved)
    proc = subprocess.run(cmd, cwd=ROOT, env=dict(env, LLM2LLM_RUNS_DIR=str(moved)), capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("Run already complete") == 6, proc.stdout[-3000:]
    for (method, seed), (f, r) in results.items():
        again = json.loads((moved / f.relative_to(runs)).read_text())
        assert again == r
        if method != "llm2llm":
            config = json.loads((moved / f.relative_to(runs)).with_name("config.json").read_text())
            assert config["method"]["budget_from"].startswith(str(moved))


def test_a_matched_run_whose_runs_moved_follows_its_source_and_nothing_else(tmp_path):
    """Runs copied to other storage: the finished matched run's config names the old budget_from path.
    It is updated where today's path gives the same LLM2LLM run and total, never where it gives another."""
    from llm2llm.methods.augment import counts, follow_moved_source
    from llm2llm.rundir import RunDir, RunDirTaken, result_config

    _, train = load_split("trec", "train")
    seeds = seed_set(train, 24, 3, True)

    def llm2llm_run(root: Path, added: list[int], teacher: str = "oracle") -> Path:
        run = root / "trec/n24/llm2llm/smollm2-135m/seed3" / f"+cell={teacher}"
        write_results(run / "results.json", added=added, task="trec", seed=3, teacher=teacher, n_seed=24,
                      student="smollm2-135m", config={"task": {"test_size": None, "test_subset_seed": 0}})
        (run / "seed_set.jsonl").write_text("".join(json.dumps({"id": e.id}) + "\n" for e in seeds))
        return run.parent

    old_root, new_root = tmp_path / "scratch", tmp_path / "project"
    cfg = control_cfg("untargeted", llm2llm_run(old_root, [9, 4]), tmp_path)
    cfg.task.test_size = None
    matched = old_root / "trec/n24/untargeted/smollm2-135m/seed3"
    config = {"method": {"name": "untargeted", "budget_from": cfg.method.budget_from}, "seed": 3}
    RunDir(matched).claim(config, {}, uses_teacher=True)
    _, stats = counts(cfg, seeds)
    (matched / "iter_0").mkdir(parents=True)
    (matched / "iter_0" / "initial_stats.json").write_text(json.dumps(stats))
    (matched / "seed_set.jsonl").write_text("".join(json.dumps({"id": e.id}) + "\n" for e in seeds))

    import shutil
    shutil.copytree(old_root, new_root)
    shutil.rmtree(old_root)
    moved = new_root / "trec/n24/untargeted/smollm2-135m/seed3"
    cfg.method.budget_from = str(new_root / "trec/n24/llm2llm/smollm2-135m/seed3")
    moved_config = {"method": {"name": "untargeted", "budget_from": cfg.method.budget_from}, "seed": 3}
    before = (moved / "config.json").read_text()
    with pytest.raises(RunDirTaken, match="method.budget_from"):  # what a moved sweep met before
        RunDir(moved).claim(moved_config, {}, uses_teacher=True)

    # today's path names another LLM2LLM run (another total; another teacher): nothing changes
    other = llm2llm_run(tmp_path / "other", [9, 5])
    for budget_from, teacher in ((other, "oracle"), (cfg.method.budget_from, "local")):
        if teacher == "local":
            llm2llm_run(new_root, [9, 4], teacher="local")
        cfg.method.budget_from, cfg.method.budget_teacher = str(budget_from), teacher
        assert not follow_moved_source(cfg, moved)
        assert (moved / "config.json").read_text() == before

    cfg.method.budget_from, cfg.method.budget_teacher = moved_config["method"]["budget_from"], "oracle"
    assert follow_moved_source(cfg, moved)
    recorded = json.loads((moved / "config.json").read_text())
    assert recorded["method"]["budget_from"] == cfg.method.budget_from
    assert result_config(recorded, True) == result_config(moved_config, True)
    RunDir(moved).claim(moved_config, {}, uses_teacher=True)  # accepted now
    assert not follow_moved_source(cfg, moved)  # and once only
