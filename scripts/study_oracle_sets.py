"""What the positive-control study's cells actually trained on, seed by seed (docs/study-oracle).

    python scripts/study_oracle_sets.py RUNS [--data-dir DIR] [--out FILE]

``RUNS``: a study's runs (full run directories or what ``scripts/keep_runs.py`` kept of them, whose
training rows carry ``text_sha1``). For each seed where the cells have finished, from each cell's
final training set (the last iteration's ``train.jsonl``), as a markdown table:

- **added**: examples added to the seeds, per cell (embedded LLM2LLM, oracle LLM2LLM, untargeted,
  random extra, EDA);
- **shared**: how many of the oracle LLM2LLM run's added texts the untargeted control added too
  (targeting can only differ in the rest);
- **cut the seed**: oracle examples (targeted, untargeted) whose text is a substring of their seed's,
  or holds it: a piece of the seed rather than another example;
- **EDA = a seed**: EDA rewrites equal to a seed text (no change);
- **labels, targeted - untargeted**: per label, how many more added examples the oracle LLM2LLM run
  holds than the untargeted control (fixed-label tasks).

Texts are compared by ``text_sha1``; a seed's and an oracle example's text are train examples, read
from the task's data (``--data-dir``, default ``../shared/data`` beside the checkout).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llm2llm.config import TaskConfig  # noqa: E402
from llm2llm.example import iter_jsonl, text_sha1  # noqa: E402
from llm2llm.report import ReportError, find_runs  # noqa: E402
from llm2llm.rundir import TRAIN_FILE, iter_name  # noqa: E402
from llm2llm.tasks import build_task  # noqa: E402

#: the report's column of each cell (llm2llm.report.load.Run.method), and its short name here
CELLS = {"llm2llm": "embedded", "llm2llm (oracle teacher)": "targeted",
         "untargeted (oracle teacher, budget-matched)": "untargeted", "random_extra (budget-matched)": "random",
         "eda (budget-matched)": "eda"}


def final_set(run_path: str, results: dict) -> list[dict]:
    """The rows of a run's last training set, each with its ``text_sha1``."""
    rows = [row for _, row in iter_jsonl(Path(run_path) / iter_name(results["iterations"][-1]["iteration"]) / TRAIN_FILE)]
    return [{**row, "text_sha1": row.get("text_sha1") or text_sha1(row["text"])} for row in rows]


def seed_rows(cells: dict[str, list[dict]], train_text: dict[str, str], by_sha: dict[str, str]) -> dict[str, str]:
    """One table row for one seed: {column: value}."""
    added = {c: [r for r in rows if r["origin"] != "seed"] for c, rows in cells.items()}
    seeds = {r["id"]: train_text[r["id"]] for r in next(iter(cells.values())) if r["origin"] == "seed"}
    seed_shas = {text_sha1(t) for t in seeds.values()}
    row = {"added": " / ".join(str(len(added[c])) if c in added else "–" for c in CELLS.values())}
    t, u = added.get("targeted"), added.get("untargeted")
    if t is not None and u is not None:
        row["shared"] = f"{sum((Counter(r['text_sha1'] for r in t) & Counter(r['text_sha1'] for r in u)).values())} of {len(t)}"

    def cuts(rows: list[dict]) -> int:
        pairs = [(by_sha.get(r["text_sha1"]), seeds.get(r["parent_id"])) for r in rows]
        return sum(bool(a and b and (a in b or b in a)) for a, b in pairs)

    row["cut the seed"] = " / ".join(f"{cuts(added[c])} of {len(added[c])}" if c in added else "–"
                                     for c in ("targeted", "untargeted"))
    if "eda" in added:
        row["EDA = a seed"] = f"{sum(r['text_sha1'] in seed_shas for r in added['eda'])} of {len(added['eda'])}"
    if t is not None and u is not None and all("answer" in r for r in t + u):
        diff = Counter(r["answer"] for r in t)
        diff.subtract(Counter(r["answer"] for r in u))
        row["labels, targeted - untargeted"] = ", ".join(f"{k} {v:+d}" for k, v in sorted(diff.items()) if v) or "same"
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path)
    ap.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, help="write the markdown here (default: print it)")
    args = ap.parse_args(argv)
    try:
        runs = [r for r in find_runs([args.runs]) if r.complete and r.method in CELLS]
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    by_task: dict[str, dict[int, dict[str, list[dict]]]] = {}
    for r in runs:
        by_task.setdefault(r.task, {}).setdefault(r.config["seed"], {})[CELLS[r.method]] = final_set(r.path, r.results)
    if not by_task:
        print(f"error: {args.runs}: no finished run of the study's cells", file=sys.stderr)
        return 2
    lines = [f"Training sets of the finished runs under `{args.runs}` (made by `scripts/study_oracle_sets.py`). "
             "added: " + " / ".join(CELLS.values()) + "; cut the seed: targeted / untargeted.", ""]
    for task, seeds in sorted(by_task.items()):
        train = build_task(TaskConfig(name=task), str(args.data_dir)).load("train")
        train_text = {e.id: e.text for e in train}
        by_sha = {text_sha1(e.text): e.text for e in train}
        rows = {s: seed_rows(cells, train_text, by_sha) for s, cells in sorted(seeds.items())}
        cols = list(dict.fromkeys(k for row in rows.values() for k in row))
        lines += [f"### {task}", "", "| seed | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        lines += [f"| {s} | " + " | ".join(row.get(c, "–") for c in cols) + " |" for s, row in rows.items()]
        lines.append("")
    text = "\n".join(lines)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
