"""An independent evaluation of a run's final checkpoint with lm-evaluation-harness (``pip install .[lm-eval]``).

    python -m llm2llm.lm_eval_check RUN_DIR [--out DIR] [--limit N] [--batch-size N] [--iteration I]

The same test examples as the run, the same rendered prompts, and lm-eval's own request types and
scoring, through task definitions generated here from local files (no hub). Written into ``DIR``
(default ``RUN_DIR/lm_eval``, refused if it exists): ``crosscheck.json`` (every accuracy side by
side, with what differs between each pair), the generated task YAMLs and their documents, and
lm-eval's per-example records.

What is compared (``crosscheck.json``):

- ``run``: the accuracy the run itself recorded for its last iteration (its own evaluation mode:
  generation parsed by the task, or label scoring).
- ``score``, tasks with a label set: llm2llm's label scoring (``predict.score_labels``, the sum of the
  label tokens' log-probabilities) against lm-eval's ``multiple_choice`` task (``acc``: the highest
  summed log-likelihood), with each label's answer text plus the end-of-turn token as the choices.
  Same model, same tokens: the predicted labels must agree example for example (a difference
  can only come from floating-point noise between two batched forward passes).
- ``generate``: lm-eval's ``generate_until`` (greedy, stopping at the end-of-turn token, the task's
  new-token budget) on the same prompts, scored by lm-eval's ``exact_match`` (case-insensitive,
  whitespace stripped) against the gold answer text (classification), or by lm-eval's own GSM8K
  filters (the number after ``####``). llm2llm parses the output with the task's parser instead
  (which, e.g., accepts a label name inside a longer reply): that extraction is the expected
  difference, counted in ``crosscheck.json`` example by example.
- ``gsm8k_standard``, GSM8K only: lm-eval's own ``gsm8k`` task definition (its 5-shot
  ``Question: ... Answer:`` prompt, no chat template, its filters) with its dataset pointed at the
  local GSM8K files: the number the field reports, on the run's test examples.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import yaml

from llm2llm.errors import ConfigError, Llm2llmError
from llm2llm.example import Example, atomic_write_json, read_jsonl
from llm2llm.rundir import CHECKPOINT_DIR, CONFIG_FILE, PREDICTIONS_TEST_FILE, RESULTS_FILE, iter_name, read_results


class CrossCheckError(Llm2llmError):
    pass


def require_lm_eval() -> str:
    """The installed lm-eval version, or a CrossCheckError saying how to install it."""
    try:
        return metadata.version("lm_eval")
    except metadata.PackageNotFoundError:
        raise CrossCheckError("lm-evaluation-harness is not installed: pip install -e '.[lm-eval]' "
                              "(with -c constraints.txt for the tested versions)") from None


# ------------------------------------------------------------------ documents and task definitions
def prompt_text(tokenizer: Any, task: Any, ex: Example, max_length: int, answer_tokens: int) -> str:
    """The prompt llm2llm evaluates ``ex`` with, as text that tokenizes back to exactly its ids (cut as
    llm2llm cuts a prompt that is too long)."""
    from llm2llm.student.data import fit_prompt, prompt_budget, prompt_ids

    try:
        ids = prompt_ids(tokenizer, task, ex, "eval")
    except TypeError:  # a prompt_ids without a stage: one prompt for training and evaluation
        ids = prompt_ids(tokenizer, task, ex)
    ids = fit_prompt(ids, prompt_budget(task, max_length, answer_tokens))
    text = tokenizer.decode(ids)
    if tokenizer(text, add_special_tokens=False)["input_ids"] != ids:
        raise CrossCheckError(f"example {ex.id}: the prompt does not tokenize back to its own ids; lm-eval would "
                              "see other tokens than llm2llm")
    return text


def label_continuations(tokenizer: Any, task: Any, ex: Example) -> list[str]:
    """Each label's answer as llm2llm scores it (target text, then the end-of-turn token), as text."""
    from llm2llm.student.data import target_ids

    return [tokenizer.decode(target_ids(tokenizer, t)) for t in task.label_targets(ex)]


def write_documents(path: Path, tokenizer: Any, task: Any, examples: Sequence[Example], max_length: int) -> None:
    rows = []
    for ex in examples:
        row: dict[str, Any] = {"id": ex.id, "target": task.target(ex)}
        if task.labels is not None:
            choices = label_continuations(tokenizer, task, ex)
            n = max(len(tokenizer(c, add_special_tokens=False)["input_ids"]) for c in choices)
            row.update(choices=choices, gold=task.labels.index(task.gold(ex)), label=task.gold(ex))
        else:
            n = 0
        row["prompt"] = prompt_text(tokenizer, task, ex, max_length, n)
        rows.append(row)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _data(path: Path) -> dict[str, Any]:
    return {"dataset_path": "json", "dataset_name": None, "dataset_kwargs": {"data_files": {"test": str(path)}},
            "test_split": "test"}


def score_task(name: str, docs: Path) -> dict[str, Any]:
    """lm-eval multiple_choice over llm2llm's prompts; the choices are the labels' answers."""
    return {"task": name, **_data(docs), "output_type": "multiple_choice", "doc_to_text": "prompt",
            "doc_to_choice": "choices", "doc_to_target": "gold", "target_delimiter": "",
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
            "metadata": {"version": 1.0}}


def generate_task(name: str, docs: Path, stop: list[str], max_new_tokens: int, gsm8k: bool) -> dict[str, Any]:
    """lm-eval generate_until over llm2llm's prompts, greedy, scored by lm-eval's exact_match."""
    t: dict[str, Any] = {"task": name, **_data(docs), "output_type": "generate_until", "doc_to_text": "prompt",
                         "doc_to_target": "target" if gsm8k else "label", "target_delimiter": "",
                         "generation_kwargs": {"until": stop, "do_sample": False, "temperature": 0.0,
                                               "max_gen_toks": max_new_tokens},
                         "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True,
                                          "ignore_case": True, "ignore_punctuation": False}],
                         "metadata": {"version": 1.0}}
    if gsm8k:  # lm-eval's own GSM8K scoring: the number after '####' on both sides
        t["metric_list"][0]["regexes_to_ignore"] = [",", "\\$", "(?s).*#### ", "\\.$"]
        t["filter_list"] = [{"name": "strict-match", "filter": [
            {"function": "regex", "regex_pattern": "#### (\\-?[0-9\\.\\,]+)"}, {"function": "take_first"}]}]
    else:
        t["filter_list"] = [{"name": "strip", "filter": [{"function": "regex", "regex_pattern": "(?s)^(.*)$"},
                                                         {"function": "take_first"}]}]
    return t


def gsm8k_standard_task(name: str, docs: Path, train: Path) -> dict[str, Any]:
    """lm-eval's own gsm8k.yaml, its data pointed at local GSM8K files (question / answer rows)."""
    import lm_eval

    standard = Path(lm_eval.__file__).parent / "tasks" / "gsm8k" / "gsm8k.yaml"
    return {"include": str(standard), "task": name, "tag": [], "dataset_path": "json", "dataset_name": None,
            "dataset_kwargs": {"data_files": {"train": str(train), "test": str(docs)}}}


# ------------------------------------------------------------------ running both evaluators
def run_lm_eval(model: Any, tokenizer: Any, task_dir: Path, names: list[str], batch_size: int,
                add_bos: bool) -> dict[str, Any]:
    """lm-eval's simple_evaluate over the generated tasks: {task: {"metrics": ..., "samples": [...]}}."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, add_bos_token=add_bos,
              max_length=getattr(model.config, "max_position_embeddings", None))
    manager = TaskManager(include_path=str(task_dir), include_defaults=False)  # the built-in index is not needed
    out = simple_evaluate(model=lm, tasks=names, task_manager=manager,
                          log_samples=True, bootstrap_iters=0, random_seed=0, numpy_random_seed=0,
                          torch_random_seed=0, fewshot_random_seed=0)
    return {n: {"metrics": out["results"][n], "samples": sorted(out["samples"][n], key=lambda s: s["doc_id"])}
            for n in names}


def score_agreement(harness: list[tuple[int, list[float]]], samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Example-by-example comparison of llm2llm's label scores with lm-eval's multiple_choice log-likelihoods.

    lm-eval moves the prompt's trailing whitespace (the chat template's newline) into every choice,
    so each of its log-likelihoods carries that token's log-probability too, the same for every
    label: differences between labels are compared, not raw values."""
    same = 0
    worst = 0.0
    disagree = []
    for (best, scores), s in zip(harness, samples):
        theirs = [float(r[0]) for r in s["filtered_resps"]]
        pick = max(range(len(theirs)), key=theirs.__getitem__)
        same += pick == best
        if pick != best:
            disagree.append(s["doc"]["id"])
        worst = max(worst, max(abs((a - scores[0]) - (b - theirs[0])) for a, b in zip(scores, theirs)))
    return {"examples": len(samples), "same_prediction": same, "disagree_ids": disagree,
            "max_abs_diff_of_label_logprob_differences": worst}


def harness_scores(model: Any, tokenizer: Any, task: Any, examples: Sequence[Example], batch_size: int,
                   max_length: int) -> list[tuple[int, list[float]]]:
    from llm2llm.student.predict import score_labels

    return score_labels(model, tokenizer, task, examples, batch_size=batch_size, max_length=max_length,
                        desc="llm2llm label scoring")


def compare(model: Any, tokenizer: Any, task: Any, examples: Sequence[Example], out: Path, *, max_length: int,
            max_new_tokens: int, batch_size: int, gsm8k_train: Path | None = None,
            recorded: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Both evaluators on ``examples``; the comparison (also written to ``out/crosscheck.json``)."""
    from llm2llm.student.data import has_chat_template

    version = require_lm_eval()
    task_dir = out / "tasks"
    task_dir.mkdir(parents=True)
    docs = out / "documents.jsonl"
    write_documents(docs, tokenizer, task, examples, max_length)
    base = f"llm2llm_{task.name}"
    stop = sorted({tokenizer.decode([t]) for t in _stop_ids(tokenizer)})
    gsm8k = task.name == "gsm8k"
    tasks = {f"{base}_generate": generate_task(f"{base}_generate", docs, stop, max_new_tokens, gsm8k)}
    if task.labels is not None:
        tasks[f"{base}_score"] = score_task(f"{base}_score", docs)
    if gsm8k and gsm8k_train is not None:
        raw = out / "gsm8k_test.jsonl"
        raw.write_text("".join(json.dumps({"question": e.text, "answer": e.answer}) + "\n" for e in examples))
        tasks["llm2llm_gsm8k_standard"] = gsm8k_standard_task("llm2llm_gsm8k_standard", raw, gsm8k_train)
    for name, spec in tasks.items():
        (task_dir / f"{name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    got = run_lm_eval(model, tokenizer, task_dir, list(tasks), batch_size, add_bos=not has_chat_template(tokenizer))
    result: dict[str, Any] = {"lm_eval_version": version, "examples": len(examples), "task": task.name}
    if recorded is not None:
        result["run"] = {"accuracy": sum(bool(p["correct"]) for p in recorded) / max(len(recorded), 1),
                         "what": "the run's own recorded evaluation of this checkpoint (predictions_test.jsonl)"}
    gen = got[f"{base}_generate"]
    key = "exact_match,strict-match" if gsm8k else "exact_match,strip"
    result["generate"] = {"lm_eval_exact_match": gen["metrics"][key]}
    if recorded is not None:
        theirs = [bool(s[key.split(",")[0]]) for s in gen["samples"]]
        ours = [bool(p["correct"]) for p in recorded]
        result["generate"]["llm2llm_parsed"] = result["run"]["accuracy"]
        result["generate"]["both_correct"] = sum(a and b for a, b in zip(ours, theirs))
        result["generate"]["only_llm2llm_correct"] = sum(a and not b for a, b in zip(ours, theirs))
        result["generate"]["only_lm_eval_correct"] = sum(b and not a for a, b in zip(ours, theirs))
        result["generate"]["same_raw_output"] = sum(
            _strip(p.get("output")) == _strip(s["resps"][0][0]) for p, s in zip(recorded, gen["samples"]))
    if task.labels is not None:
        mc = got[f"{base}_score"]
        ours_scores = harness_scores(model, tokenizer, task, examples, batch_size, max_length)
        result["score"] = {"llm2llm_accuracy": sum(task.labels[b] == task.gold(e) for (b, _), e in
                                                   zip(ours_scores, examples)) / max(len(examples), 1),
                           "lm_eval_acc": mc["metrics"]["acc,none"],
                           **score_agreement(ours_scores, mc["samples"])}
    if "llm2llm_gsm8k_standard" in got:
        m = got["llm2llm_gsm8k_standard"]["metrics"]
        result["gsm8k_standard"] = {k.replace(",", "/"): v for k, v in m.items() if k.startswith("exact_match,")}
    atomic_write_json(out / "crosscheck.json", result)
    for name, g in got.items():
        (out / f"samples_{name}.jsonl").write_text(
            "".join(json.dumps(s, default=str, ensure_ascii=False) + "\n" for s in g["samples"]))
    return result


def _strip(s: Any) -> str:
    return str(s or "").strip()


def _stop_ids(tokenizer: Any) -> list[int]:
    from llm2llm.student.data import end_of_turn_id

    return [t for t in {end_of_turn_id(tokenizer), tokenizer.eos_token_id} if t is not None]


# ------------------------------------------------------------------ a run directory
def _run_config(run_dir: Path) -> tuple[Any, dict[str, Any]]:
    from llm2llm.schemas import recorded_config

    f = run_dir / CONFIG_FILE
    if not f.is_file():
        raise CrossCheckError(f"{run_dir}: not a run directory (no config.json)")
    config = json.loads(f.read_text())
    if os.environ.get("LLM2LLM_DATA_DIR"):
        config["data_dir"] = os.environ["LLM2LLM_DATA_DIR"]
    try:
        typed = recorded_config(config)
    except Exception as e:
        raise CrossCheckError(f"{f}: this version of llm2llm cannot read the run's config ({e})") from None
    return typed, config


def check_run(run_dir: Path, out: Path, limit: int | None, batch_size: int | None,
              iteration: int | None = None) -> dict[str, Any]:
    """The cross-check of the final checkpoint of a finished run (or of iteration ``iteration``'s, once
    that iteration has its checkpoint and test predictions)."""
    from llm2llm.main import load_task_data
    from llm2llm.student import Student, is_complete

    require_lm_eval()
    if iteration is None:
        results = read_results(run_dir / RESULTS_FILE)
        if results is None or not results.complete:
            raise CrossCheckError(f"{run_dir}: the run has not finished (no complete results.json); "
                                  "--iteration N checks an iteration that has")
        iteration = int(results.last_iteration)
    if out.exists():
        raise CrossCheckError(f"{out}: already exists; remove it or pass another --out (results are never overwritten)")
    cfg, config = _run_config(run_dir)
    last = iteration
    ckpt = run_dir / iter_name(last) / CHECKPOINT_DIR
    if not is_complete(ckpt):
        raise CrossCheckError(f"{ckpt}: no complete checkpoint for iteration {last}")
    data = load_task_data(cfg)
    test = data.test[:limit] if limit else data.test
    preds = run_dir / iter_name(last) / PREDICTIONS_TEST_FILE
    recorded = None  # an iteration still being evaluated: lm-eval and label scoring only
    if preds.is_file():
        recorded = read_jsonl(preds)
        if [p["id"] for p in recorded] != [e.id for e in data.test]:
            raise CrossCheckError(f"{run_dir}: the test examples rebuilt from the config are not the run's")
        recorded = recorded[:len(test)]
    student = Student(config["student"], config["trainer"], data.task, cfg.cache_dir, cfg.seed)
    model = student._model(ckpt)
    max_new = int(getattr(data.task, "max_new_tokens", None) or data.task.cfg.max_new_tokens)
    gsm8k_train = None
    if data.task.name == "gsm8k" and data.task.local_dir is not None:
        gsm8k_train = data.task.local_dir / "train.jsonl"
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    result = compare(model, student.tokenizer, data.task, test, tmp, max_length=int(config["student"]["max_length"]),
                     max_new_tokens=max_new, batch_size=batch_size or int(config["trainer"]["eval_batch_size"]),
                     gsm8k_train=gsm8k_train, recorded=recorded)
    result["iteration"] = last
    result["checkpoint"] = str(ckpt)
    result["lora"] = (ckpt / "adapter_config.json").is_file()
    atomic_write_json(tmp / "crosscheck.json", result)
    os.replace(tmp, out)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m llm2llm.lm_eval_check", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--out", type=Path, help="output folder (default RUN_DIR/lm_eval); must not exist")
    ap.add_argument("--limit", type=int, help="only the first N test examples")
    ap.add_argument("--batch-size", type=int, help="default: the run's trainer.eval_batch_size")
    ap.add_argument("--iteration", type=int, help="check this iteration's checkpoint (default: the finished run's last)")
    args = ap.parse_args(argv)
    try:
        if not args.run_dir.is_dir():
            raise CrossCheckError(f"{args.run_dir}: no such run directory")
        default_out = args.run_dir / ("lm_eval" if args.iteration is None else f"lm_eval_iter_{args.iteration}")
        r = check_run(args.run_dir, args.out or default_out, args.limit, args.batch_size, args.iteration)
        print(json.dumps({k: v for k, v in r.items() if k not in ("checkpoint",)}, indent=1))
        return 0
    except (Llm2llmError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
