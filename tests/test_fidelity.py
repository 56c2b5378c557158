"""docs/fidelity.yaml against the composed paper sweeps: each sweep is composed as
``python train.py --config-dir sweeps --config-name paper_<task> --cfg job`` composes it (with each
method of its grid), every row's ``ours`` must be the composed value, and docs/fidelity.md's table
must be the one rendered from the YAML. Run this file as a script to re-render the table."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "docs" / "fidelity.yaml"
PAGE = ROOT / "docs" / "fidelity.md"
SWEEPS = sorted(p.stem for p in (ROOT / "sweeps").glob("paper_*.yaml"))
BEGIN, END = "<!-- table: rendered from fidelity.yaml by tests/test_fidelity.py -->", "<!-- end of table -->"


def rows() -> list[dict[str, Any]]:
    return yaml.safe_load(TABLE.read_text())["rows"]


@functools.lru_cache(maxsize=None)
def composed(sweep: str, method: str, with_hydra: bool = True) -> Any:
    """The job config of ``sweep`` with ``method`` (and the Hydra part, for the grid)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from llm2llm.schemas import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "sweeps"), version_base=None):
        return compose(config_name=sweep, overrides=[f"method={method}", f"hydra.searchpath=[file://{ROOT / 'conf'}]"],
                       return_hydra_config=with_hydra)


def value(cfg: Any, key: str) -> Any:
    from omegaconf import OmegaConf

    if key.startswith("grid:"):
        grid = cfg.hydra.sweeper.params[key[len("grid:"):]]
        return [yaml.safe_load(v) for v in str(grid).split(",")]
    v = OmegaConf.select(cfg, key, throw_on_missing=True)
    return OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else getattr(v, "value", v)


def sweeps_of(row: dict[str, Any]) -> list[str]:
    return SWEEPS if row["sweeps"] == "all" else row["sweeps"]


def test_every_row_is_complete():
    assert SWEEPS == ["paper_casehold", "paper_gsm8k", "paper_snips", "paper_sst2", "paper_trec"]
    for row in rows():
        assert {"setting", "key", "sweeps", "ours", "paper", "source", "status"} <= set(row), row
        assert row["status"] in ("same", "deviates", "unknown"), row
        assert row["status"] == "same" or row.get("why"), f"{row['setting']}: say why it {row['status']}"
        assert set(sweeps_of(row)) <= set(SWEEPS), row


@pytest.mark.parametrize("sweep", SWEEPS)
def test_the_composed_sweep_matches_the_table(sweep):
    checked = 0
    for row in rows():
        if row["key"] is None or sweep not in sweeps_of(row):
            continue
        got = value(composed(sweep, row.get("method", "llm2llm")), row["key"])
        assert got == row["ours"], f"{sweep}: {row['key']} is {got!r}, docs/fidelity.yaml says {row['ours']!r}"
        checked += 1
    assert checked >= 25


def test_every_sweep_method_validates():
    """Each (sweep, method of its grid) composes into a config that passes start-up validation."""
    from llm2llm.config import validate

    for sweep in SWEEPS:
        for method in str(composed(sweep, "llm2llm").hydra.sweeper.params["method"]).split(","):
            validate(composed(sweep, method, with_hydra=False))


def compose_file(name: str, overrides: tuple[str, ...] = ()) -> Any:
    """A sweep file (or conf/config.yaml with ``overrides``) composed as the command line would."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from llm2llm.schemas import register_configs

    register_configs()
    GlobalHydra.instance().clear()
    config_dir = ROOT / ("conf" if name == "config" else "sweeps")
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        return compose(config_name=name, overrides=[*overrides, f"hydra.searchpath=[file://{ROOT / 'conf'}]"],
                       return_hydra_config=True)


ALL_SWEEPS = sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml") if p.stem != "reference")


@pytest.mark.parametrize("sweep", ALL_SWEEPS)
def test_a_sweep_gets_its_tasks_own_settings(sweep):
    """Every task setting a sweep does not set itself is its task group's (conf/task/<name>.yaml):
    a sweep that renamed the default task instead of choosing the group ran, e.g., CaseHOLD with
    SST-2's stratified draw and new-token budget."""
    from omegaconf import OmegaConf

    cfg = compose_file(sweep)
    name = cfg.task.name
    assert (ROOT / "conf" / "task" / f"{name}.yaml").is_file(), f"{sweep}: task {name!r} has no group file"
    own = compose_file("config", (f"task={name}",)).task
    in_file = set((yaml.safe_load((ROOT / "sweeps" / f"{sweep}.yaml").read_text()).get("task") or {}))
    swept = {k.split(".", 1)[1].split(".")[0] for k in cfg.hydra.sweeper.params if k.startswith("task.")}
    got, want = OmegaConf.to_container(cfg.task), OmegaConf.to_container(own)
    differ = sorted(k for k in set(got) | set(want) if k not in in_file | swept and got.get(k) != want.get(k))
    assert not differ, f"{sweep}: task {name} differs from conf/task/{name}.yaml in {differ}"


def test_the_gsm8k_ablations_share_the_paper_sweeps_settings():
    """ablation_gsm8k's baseline cell (targeted, k 1, restart, GPT-3.5) is paper_gsm8k's LLM2LLM at
    n74: same recipe, evaluation and seed size, so the two sweeps' numbers can be read together."""
    from omegaconf import OmegaConf

    from llm2llm.rundir import config_diff

    ablation, paper = compose_file("ablation_gsm8k"), compose_file("paper_gsm8k", ("method=llm2llm", "task.seed_size=74"))
    ablated = {f"{k}" for k in ablation.hydra.sweeper.params} - {"seed"}
    diff = [k for k in config_diff(OmegaConf.to_container(ablation, resolve=False),
                                   OmegaConf.to_container(paper, resolve=False))
            if not k.startswith(("hydra.", "tracking.")) and k not in ablated]
    assert diff == []
    assert sorted(ablated) == ["method.k", "method.targeted", "teacher", "trainer.restart_from_base"]


def render(table_rows: list[dict[str, Any]]) -> str:
    def cell(x: Any) -> str:
        text = "—" if x is None else (", ".join(map(str, x)) if isinstance(x, list) else str(x))
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| Setting | Config key | Sweeps | Ours | Paper / official code | Source | Status |",
             "|---|---|---|---|---|---|---|"]
    for r in table_rows:
        sweeps = "all" if r["sweeps"] == "all" else ", ".join(s.replace("paper_", "") for s in r["sweeps"])
        if r.get("method"):
            sweeps += f" (method={r['method']})"
        status = r["status"] if r["status"] == "same" and not r.get("why") else f"{r['status']}: {r['why']}"
        key = f"`{r['key']}`" if r["key"] else "—"
        lines.append(f"| {cell(r['setting'])} | {key} | {sweeps} | {cell(r['ours'])} | {cell(r['paper'])} | "
                     f"{cell(r['source'])} | {cell(status)} |")
    return "\n".join(lines)


def test_the_page_shows_the_table():
    page = PAGE.read_text()
    assert BEGIN in page and END in page
    shown = page.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert shown == render(rows()), "docs/fidelity.md is out of date: run python tests/test_fidelity.py"


if __name__ == "__main__":
    page = PAGE.read_text()
    head, rest = page.split(BEGIN, 1)
    PAGE.write_text(f"{head}{BEGIN}\n{render(rows())}\n{END}{rest.split(END, 1)[1]}")
    print(f"rendered {len(rows())} rows into {PAGE}")
