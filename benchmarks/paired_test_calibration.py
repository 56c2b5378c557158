"""How often the report's paired test rejects at 5 %: null data (no true difference) and data with
a true difference, beside the two-level bootstrap and the exact McNemar test pooled over seeds.

Simulated seeds x test examples grids (tests/test_stats.py ``simulate``: per-seed logit shift of the
method around ``effect`` with spread ``seed_sd``, example difficulty shared by every seed, 300
examples). Pure numpy; the numbers do not depend on the machine.

    python benchmarks/paired_test_calibration.py [--reps 400]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats as sps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_stats import bootstrap_variance, grid, simulate  # noqa: E402

from llm2llm.stats import paired_test  # noqa: E402


def rejections(rng: np.random.Generator, n_seeds: int, seed_sd: float, effect: float, reps: int) -> tuple[float, ...]:
    ours = boot = pooled = 0
    for _ in range(reps):
        d = simulate(rng, n_seeds, seed_sd, effect)
        ours += paired_test(*grid(d)).p < 0.05
        z = d.mean() / max(bootstrap_variance(d) ** 0.5 / d.size, 1e-300)
        boot += 2 * (sps.t.sf(abs(z), n_seeds - 1) if n_seeds > 1 else sps.norm.sf(abs(z))) < 0.05
        b, c = int((d == 1).sum()), int((d == -1).sum())
        pooled += b + c > 0 and sps.binomtest(b, b + c, 0.5).pvalue < 0.05
    return ours / reps, boot / reps, pooled / reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=400)
    ns = ap.parse_args()
    rng = np.random.default_rng(0)
    print("| regime (seed_sd) | seeds | true effect | paired test | two-level bootstrap | pooled McNemar |")
    print("|---|---|---|---|---|---|")
    for regime, seed_sd in (("per-example noise", 0.02), ("mixed", 0.2), ("seed-to-seed", 0.6)):
        for n_seeds in (3, 5, 14):
            for effect in (0.0, 0.15):
                r = rejections(rng, n_seeds, seed_sd, effect, ns.reps)
                print(f"| {regime} ({seed_sd}) | {n_seeds} | {effect} | " + " | ".join(f"{x:.3f}" for x in r) + " |",
                      flush=True)


if __name__ == "__main__":
    main()
