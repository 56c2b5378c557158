"""``python -m llm2llm.preflight --out DIR``: check and measure, on this machine, what a paper sweep uses.

One line per check (ok / failed (error) / skipped (why)), then DIR/preflight.json (every figure)
and DIR/preflight.md. Exit status 0 when no check failed, 1 when one did, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys
import tempfile
from pathlib import Path

from llm2llm.errors import Llm2llmError

ROOT = Path(__file__).resolve().parents[2]
CHECKS = ("environment", "train_full", "train_lora", "eval_generate", "eval_score", "eval_vllm", "projection")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m llm2llm.preflight", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder for preflight.json and preflight.md (must not hold a report yet)")
    p.add_argument("--sizes", default="auto", choices=("auto", "toy", "gpu"),
                   help="auto: gpu sizes where CUDA is available, toy (a tiny model, seconds on a CPU) elsewhere")
    p.add_argument("--student", default="llama2-7b", help="conf/student/<name>.yaml (default: the paper sweeps')")
    p.add_argument("--trainer", default="zero3", help="conf/trainer/<name>.yaml (default: the paper sweeps')")
    p.add_argument("--sweep", action="append", default=None,
                   help="sweep file(s) to project (repeatable; default: sweeps/paper_*.yaml)")
    p.add_argument("--only", default=None, help=f"comma-separated subset of: {','.join(CHECKS)}")
    p.add_argument("--wrong-fraction", type=float, default=1.0,
                   help="share of seeds assumed wrong each LLM2LLM iteration (1.0: upper bound)")
    p.add_argument("--train-layers", type=int, default=None, help="decoder layers of the model trained")
    p.add_argument("--train-steps", type=int, default=None, help="optimizer steps (first one untimed)")
    p.add_argument("--train-seq-len", type=int, default=None)
    p.add_argument("--eval-examples", type=int, default=None)
    p.add_argument("--max-new-tokens", type=int, default=None, dest="eval_max_new_tokens")
    p.add_argument("--keep-work", default=None, help="keep the scratch files (models, training output) in this folder")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    ns = parse(argv)
    out = Path(ns.out)
    try:
        return _run(ns, out)
    except Llm2llmError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _run(ns: argparse.Namespace, out: Path) -> int:
    from llm2llm.errors import ConfigError

    if (out / "preflight.json").exists():
        raise ConfigError(f"{out / 'preflight.json'} already exists: choose another --out (earlier results are kept)")
    only = [c.strip() for c in ns.only.split(",")] if ns.only else None
    unknown = sorted(set(only or []) - set(CHECKS))
    if unknown:
        raise ConfigError(f"--only: unknown check(s) {unknown}; expected some of {list(CHECKS)}")
    if not 0 <= ns.wrong_fraction <= 1:
        raise ConfigError(f"--wrong-fraction must be in [0, 1], got {ns.wrong_fraction}")
    sweeps = [Path(s) for s in ns.sweep] if ns.sweep else sorted((ROOT / "sweeps").glob("paper_*.yaml"))
    missing = [str(s) for s in sweeps if not s.is_file()]
    if missing:
        raise ConfigError(f"--sweep: {', '.join(missing)} not found")

    import torch

    from llm2llm.preflight import report
    from llm2llm.preflight.context import Context, compose
    from llm2llm.preflight.env import cpu_model, device_name
    from llm2llm.preflight.run import run_checks
    from llm2llm.preflight.sizes import pick

    sizes = pick(ns.sizes, torch.cuda.is_available(), train_layers=ns.train_layers, train_steps=ns.train_steps,
                 train_seq_len=ns.train_seq_len, eval_examples=ns.eval_examples, eval_max_new_tokens=ns.eval_max_new_tokens)
    student, trainer = compose(ns.student, ns.trainer)
    cache_dir = os.environ.get("LLM2LLM_CACHE_DIR", str(Path("~/.cache/llm2llm").expanduser()))
    header = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{device_name() or 'no CUDA device'}; CPU {cpu_model()} ({os.cpu_count()} cores)",
              "command": " ".join(shlex.quote(a) for a in ["python", "-m", "llm2llm.preflight", *(sys.argv[1:])]),
              "sizes": sizes.to_dict(), "student": ns.student, "student_model": student["model"],
              "architecture_source": "", "trainer": ns.trainer}

    def save(results: list, complete: bool = False) -> dict:
        return report.write(out, report.build(results, {**header, "complete": complete}))
    with tempfile.TemporaryDirectory(prefix="llm2llm-preflight-") as tmp:
        work = Path(ns.keep_work) if ns.keep_work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        ctx = Context(sizes=sizes, student=student, trainer=trainer, work=work, cache_dir=cache_dir, sweeps=sweeps,
                      wrong_fraction=ns.wrong_fraction)
        print(f"preflight: student={ns.student} trainer={ns.trainer} sizes={sizes.name} "
              f"({device_name() or 'CPU ' + cpu_model()})", flush=True)
        try:
            header["architecture_source"] = ctx.architecture()[1]
        except Exception as e:  # noqa: BLE001 - the checks report it
            header["architecture_source"] = f"unavailable ({type(e).__name__}: {e})"
        results = run_checks(ctx, only, echo=lambda line: print(line, flush=True), after=save)
    rep = save(results, complete=True)
    print(f"report: {out / 'preflight.json'} and {out / 'preflight.md'} ({rep['summary']['ok']} ok, "
          f"{rep['summary']['failed']} failed, {rep['summary']['skipped']} skipped)")
    return 1 if rep["summary"]["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
