"""One training rank: ``python -m llm2llm.student.worker <spec.json> [--local_rank N]``.

Started by torchrun or the deepspeed launcher (see ``llm2llm.student.distributed``); Hydra is not
involved. A user-facing error (e.g. out of memory) is written to ``<work_dir>/error.txt`` so the
parent process can re-raise it as one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from llm2llm.errors import Llm2llmError
from llm2llm.student.train import TrainSpec, run_training


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("spec")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None)  # the deepspeed launcher passes it
    ns = parser.parse_args(argv)
    if ns.local_rank is not None:
        os.environ.setdefault("LOCAL_RANK", str(ns.local_rank))
    spec = TrainSpec.load(ns.spec)
    try:
        run_training(spec)
    except Llm2llmError as e:
        if os.environ.get("RANK", "0") == "0":
            (Path(spec.work_dir) / "error.txt").write_text(str(e))
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
