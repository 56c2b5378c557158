"""One schema per method and per teacher backend: every shipped group file composes to its own schema,
a key the chosen method or backend does not have fails while composing (naming it), closed sets are
enums, and a sweep over several methods gives each its own settings (sweeps/cpu_twin/)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from llm2llm.config import TEACHER_SCHEMAS, LlamaCppTeacherConfig, OracleTeacherConfig, teacher_config, validate
from llm2llm.errors import ConfigError
from llm2llm.methods import method_schemas
from llm2llm.methods.eda import EDAConfig
from llm2llm.methods.llm2llm import LLM2LLMConfig
from llm2llm.schemas import register_configs

ROOT = Path(__file__).resolve().parent.parent


def composed(overrides: list[str], config_name: str = "config", config_dir: Path = ROOT / "conf"):
    register_configs()
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(config_name=config_name, overrides=[*overrides, f"hydra.searchpath=[file://{ROOT / 'conf'}]"])


def composition_error(overrides: list[str]) -> str:
    with pytest.raises(ConfigCompositionException) as e:
        composed(overrides)
    return f"{e.value} {e.value.__cause__}"


@pytest.mark.parametrize("path", sorted((ROOT / "conf" / "method").glob("*.yaml")), ids=lambda p: p.stem)
def test_each_method_file_composes_to_its_own_schema(path):
    cfg = validate(composed([f"method={path.stem}"]))
    assert type(cfg.method) is method_schemas()[cfg.method.name]


@pytest.mark.parametrize("path", sorted((ROOT / "conf" / "teacher").glob("*.yaml")), ids=lambda p: p.stem)
def test_each_teacher_file_composes_to_its_backends_schema(path):
    raw = composed([f"teacher={path.stem}"])
    if OmegaConf.is_missing(raw.teacher, "model"):  # openai-compatible: the user names the server's model
        raw.teacher.model, raw.teacher.base_url = "m", "http://127.0.0.1:9/v1"
    cfg = validate(raw)
    assert type(cfg.teacher) is TEACHER_SCHEMAS[str(cfg.teacher.backend)]


@pytest.mark.parametrize("overrides,key,schema", [
    (["method=finetune", "method.k=2"], "method.k", "FinetuneConfig"),
    (["method=eda", "method.targeted=false"], "method.targeted", "EDAConfig"),
    (["method=llm2llm", "method.num_aug=2"], "method.num_aug", "LLM2LLMConfig"),
    (["method=llm2llm", "method.pool_size=10"], "method.pool_size", "LLM2LLMConfig"),
    (["teacher=oracle", "teacher.no_copy_ngram=4"], "teacher.no_copy_ngram", "OracleTeacherConfig"),
    (["teacher=gpt-3.5-turbo", "teacher.n_threads=1"], "teacher.n_threads", "OpenAITeacherConfig"),
    (["teacher=local-smollm2-llamacpp", "teacher.base_url=http://x/v1"], "teacher.base_url", "LlamaCppTeacherConfig"),
])
def test_a_key_the_chosen_method_or_backend_lacks_fails_while_composing(overrides, key, schema):
    message = composition_error(overrides)
    assert f"Could not override '{key}'" in message and schema in message


@pytest.mark.parametrize("override,values", [
    ("trainer.launcher=mpirun", "torchrun, deepspeed"),
    ("tracking.mode=sometimes", "auto, online, offline"),
    ("teacher.structured=json_schema", "auto, none"),  # the in-process llama.cpp teacher: grammar or none
    ("student.dtype=fp8", "auto, float32, bfloat16, float16"),
])
def test_closed_sets_are_enums_that_name_their_values(override, values):
    message = composition_error([override])
    assert override.split("=")[0] in message and values in message


@pytest.mark.parametrize("override,expected", [
    ("method.k=0", "method.k: must be >= 1, got 0"),
    ("teacher.no_copy_ngram=1", "teacher.no_copy_ngram: must be 0 (off) or >= 2, got 1"),
    ("task.s2l.proxy.n_checkpoints=0", None),  # only checked when the seed set is selected by S2L
])
def test_each_schema_checks_its_own_fields(override, expected):
    raw = composed([override])
    if expected is None:
        validate(raw)
        with pytest.raises(ConfigError, match=r"task\.s2l\.proxy\.n_checkpoints: must be >= 1, got 0"):
            validate(composed([override, "task.seed_selection=s2l"]))
        return
    with pytest.raises(ConfigError) as e:
        validate(raw)
    assert str(e.value) == expected


def test_a_cpu_twin_sweep_gives_each_method_its_own_settings():
    """sweeps/sst2_cpu.yaml: EDA and AugGPT one rewrite per seed (their own default: 9 and 4), LLM2LLM
    three iterations and no num_aug key at all; the baselines train once whatever iterations says."""
    settings = {}
    for method in ("finetune", "eda", "auggpt", "llm2llm"):
        cfg = validate(composed([f"method={method}"], "sst2_cpu", ROOT / "sweeps"))
        settings[method] = OmegaConf.to_container(OmegaConf.structured(cfg.method))
    assert settings["eda"]["num_aug"] == settings["auggpt"]["num_aug"] == 1
    assert settings["llm2llm"]["iterations"] == 3 and "num_aug" not in settings["llm2llm"]
    assert set(settings["finetune"]) == {"name", "iterations"}
    plain = validate(composed(["method=eda"]))
    assert isinstance(plain.method, EDAConfig) and plain.method.num_aug == 9


def test_teacher_config_builds_the_backends_schema_and_refuses_other_keys():
    assert isinstance(teacher_config(name="t", backend="llamacpp", model="m", no_copy_ngram=4), LlamaCppTeacherConfig)
    assert isinstance(teacher_config(name="t", backend="oracle"), OracleTeacherConfig)
    with pytest.raises(ConfigError, match="teacher.no_copy_ngram: the openai teacher has no such setting"):
        teacher_config(name="t", backend="openai", model="m", no_copy_ngram=4)
    with pytest.raises(ConfigError, match=re.escape("teacher.backend: openai | llamacpp | local | oracle, got 'vllm'")):
        teacher_config(name="t", backend="vllm", model="m")
    assert LLM2LLMConfig(name="llm2llm").k == 1


def test_the_swept_group_check_lets_through_what_hydra_composes():
    """What the pre-Hydra check of a multirun command line (llm2llm/sweep_overrides.py) must not refuse:
    ``++`` for a key every swept method has, a key the default method has too, a sweep file's
    own defaults, a group swept without overrides of its keys, a single run."""
    from llm2llm.sweep_overrides import check_swept_group_keys

    for argv in (["-m", "method=eda,auggpt", "++method.num_aug=2"],
                 ["-m", "method=llm2llm,llm2llm", "method.k=2"],
                 ["-m", "--config-dir", "sweeps", "--config-name", "sst2_cpu", "method=eda,auggpt", "++method.num_aug=2"],
                 ["-m", "method=eda,finetune", "seed=0,1"],
                 ["-m", "method=nosuch,eda", "method.num_aug=2"],  # Hydra names the missing option itself
                 ["method=finetune", "method.num_aug=2"]):  # not a multirun: Hydra's own message names FinetuneConfig
        assert check_swept_group_keys(argv) is None, argv
    with pytest.raises(ConfigError, match=r"method=finetune has no setting num_aug"):
        check_swept_group_keys(["--multirun", "--config-dir", "sweeps", "--config-name", "sst2_cpu",
                                "method=finetune,eda", "method.num_aug=2"])
    with pytest.raises(ConfigError, match=re.escape(
            "method.num_aug=2: every swept method has num_aug, but Hydra first composes the sweep with the "
            "default method, which has not: write ++method.num_aug=2")):
        check_swept_group_keys(["-m", "method=eda,auggpt", "seed=0,1", "method.num_aug=2"])
    with pytest.raises(ConfigError, match=re.escape("every swept method has num_aug, but Hydra first composes "
                                                    "the sweep with the default method")):
        check_swept_group_keys(["-m", "--config-dir", "sweeps", "--config-name", "sst2_cpu",
                                "method=eda,auggpt", "method.num_aug=3"])


@pytest.mark.parametrize("overrides", [["method=llm2llm"], ["method=eda"], ["method=finetune", "teacher=oracle"],
                                       ["method=auggpt", "teacher=gpt-4-turbo"], ["method=s2l"],
                                       ["method=untargeted", "teacher=oracle"]], ids=lambda o: "-".join(o))
def test_a_recorded_config_reads_back_as_the_config_the_run_had(overrides, tmp_path):
    """config.json (to_plain of the composed config) read back by the tools that reopen a run, e.g.
    `python -m llm2llm.lm_eval_check RUN_DIR`: each group in its own schema again."""
    import json

    from llm2llm.config import to_plain
    from llm2llm.lm_eval_check import _run_config
    from llm2llm.schemas import recorded_config

    raw = composed(overrides)
    recorded = json.loads(json.dumps(to_plain(raw)))
    assert recorded_config(recorded) == validate(raw)
    (tmp_path / "config.json").write_text(json.dumps(recorded))
    typed, _ = _run_config(tmp_path)
    assert type(typed.method) is method_schemas()[recorded["method"]["name"]]


def test_a_config_recorded_by_the_older_one_schema_layout_still_reads():
    """Before each method had its own schema, every run recorded every method's keys."""
    from llm2llm.config import to_plain
    from llm2llm.schemas import recorded_config

    recorded = to_plain(composed(["method=finetune"]))
    recorded["method"].update(k=1, num_aug=9, alpha_sr=0.1, n_clusters=100)
    cfg = recorded_config(recorded)
    assert type(cfg.method).__name__ == "FinetuneConfig" and cfg.method.iterations == recorded["method"]["iterations"]


def test_a_run_directory_from_before_a_new_setting_is_still_resumed(tmp_path):
    """A config.json written before a setting existed (here task.label_quota, added with default
    proportional) is the same config as today's with the default: the directory resumes (a finished
    run is a no-op, as `make run` twice promises). Today's config with the new setting changed is not."""
    from llm2llm.config import to_plain
    from llm2llm.errors import ConfigError
    from llm2llm.main import as_read_today
    from llm2llm.rundir import CONFIG_FILE, RunDir

    today = to_plain(composed(["method=llm2llm"]))
    older = json.loads(json.dumps(today))
    del older["task"]["label_quota"]
    (tmp_path / CONFIG_FILE).write_text(json.dumps(older))
    rd = RunDir(tmp_path)
    with pytest.raises(ConfigError, match="differs in: task.label_quota"):  # compared as written
        rd.claim(today, {}, uses_teacher=True)
    rd.claim(today, {}, uses_teacher=True, read_back=as_read_today)
    changed = to_plain(composed(["method=llm2llm", "task.label_quota=equal"]))
    with pytest.raises(ConfigError, match="differs in: task.label_quota"):
        rd.claim(changed, {}, uses_teacher=True, read_back=as_read_today)
