"""Seeds that stay wrong, iteration after iteration (the case LLM2LLM exists for).

The teacher is FakeOpenAIServer (tests/teacher_fixtures.py), a fake OpenAI-compatible HTTP server:
it always answers with a valid, distinct example, so that every shortfall seen here is the
harness's, not a small model's. Real ``openai`` client, real HTTP, real cache and validators."""

from __future__ import annotations

import pytest

from cli_helpers import train_env, train_py
from llm2llm.teacher import Teacher
from teacher_fixtures import FakeOpenAIServer, Reply, load_split, teacher_cfg

ITERATIONS = 6
K = 2


def always_valid(req: dict, digest: str, seen: int) -> Reply:
    return Reply(content=f"Sentence: a newly written review, variant {req['seed']}, of a film")


def run_iterations(server: FakeOpenAIServer, tmp_path, run_seed: int) -> tuple[list[int], list[int], list]:
    """augment() for iterations 1..N on the same wrong seeds, D_i growing as the loop grows it."""
    task, train = load_split("sst2", "train")
    _, test = load_split("sst2", "test")
    wrong, existing = train[:6], list(train[:6])
    kept, calls, texts = [], [], []
    cfg = teacher_cfg(base_url=server.base_url, api_key_env="LLM2LLM_TEST_UNSET_KEY",
                      cache_path=str(tmp_path / "teacher_cache"), max_reasks=2)
    with Teacher(cfg, task, str(tmp_path), run_seed=run_seed) as teacher:
        for i in range(1, ITERATIONS + 1):
            before = server.calls
            r = teacher.augment(wrong, k=K, iteration=i, existing=existing, forbidden=test)
            kept.append(len(r.examples))
            calls.append(server.calls - before)
            texts += [e.text for e in r.examples]
            existing += r.examples
    return kept, calls, texts


def test_every_iteration_gets_fresh_examples_and_a_rerun_asks_nothing(tmp_path):
    with FakeOpenAIServer(always_valid) as server:
        kept, calls, texts = run_iterations(server, tmp_path, run_seed=0)
        # k new examples per wrong seed in every iteration, each one asked of the backend
        assert kept == [6 * K] * ITERATIONS
        assert calls == [6 * K] * ITERATIONS
        assert len(set(texts)) == len(texts) == 6 * K * ITERATIONS
        # the same run again (a resumed or re-run job): everything from the cache, no backend call
        before = server.calls
        kept2, calls2, texts2 = run_iterations(server, tmp_path, run_seed=0)
        assert server.calls == before and calls2 == [0] * ITERATIONS and texts2 == texts
        # another run seed: its own requests, its own examples
        kept3, calls3, texts3 = run_iterations(server, tmp_path, run_seed=1)
        assert calls3 == [6 * K] * ITERATIONS and not set(texts3) & set(texts)


@pytest.mark.slow
def test_six_iterations_through_train_py_then_a_resume_asks_nothing(tmp_path, tiny_llama, data_dir):
    """The whole loop: a tiny random student (it gets every seed wrong, every iteration), 6 iterations."""
    import json

    run = tmp_path / "run"
    with FakeOpenAIServer(always_valid) as server:
        args = ["task=sst2", "task.seed_size=4", "task.test_size=4", "task.max_new_tokens=4",
               f"student.model={tiny_llama}", "student.lora.target_modules=[q_proj,v_proj]",
               "method=llm2llm", f"method.iterations={ITERATIONS}", f"method.k={K}", "trainer.max_steps=1",
               "teacher=openai-compatible", f"teacher.base_url={server.base_url}", "teacher.model=fake-model",
               "teacher.api_key_env=LLM2LLM_TEST_UNSET_KEY", f"teacher.cache_path={tmp_path / 'teacher_cache'}",
               "tracking=none", f"hydra.run.dir={run}"]
        env = train_env(OMP_NUM_THREADS="2")
        proc = train_py(*args, env=env, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        first = server.calls
        results = json.loads((run / "results.json").read_text())
        its = results["iterations"]
        assert len(its) == ITERATIONS
        assert [it["n_wrong"] for it in its] == [4] * ITERATIONS  # the same seeds stay wrong
        assert [it["added"] for it in its] == [4 * K] * (ITERATIONS - 1) + [0]  # no teacher after the last one
        assert [it["teacher"].get("cache_misses") for it in its[:-1]] == [4 * K] * (ITERATIONS - 1)
        assert first == 4 * K * (ITERATIONS - 1)
        assert its[-1]["train_size"] == 4 + 4 * K * (ITERATIONS - 1)
        # the same command again: the run is complete, nothing is asked; a half-finished copy resumes without asking
        copy = tmp_path / "copy"
        import shutil

        shutil.copytree(run, copy)
        # killed during iteration 4's teacher stage: its outputs are gone, the teacher is asked again
        for name in ("results.json", f"iter_{ITERATIONS - 2}/metrics.json", f"iter_{ITERATIONS - 2}/teacher_stats.json"):
            (copy / name).unlink()
        shutil.rmtree(copy / f"iter_{ITERATIONS - 1}")
        proc = train_py(*args[:-1], f"hydra.run.dir={copy}", env=env, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert server.calls == first  # every teacher request of the resumed iterations came from the cache
        redone = json.loads((copy / f"iter_{ITERATIONS - 2}/metrics.json").read_text())["teacher"]
        assert (redone["cache_hits"], redone["cache_misses"]) == (4 * K, 0)
        assert json.loads((copy / "results.json").read_text())["iterations"][-1]["train_size"] == its[-1]["train_size"]
