"""Entry point: ``python train.py task=trec method=finetune student=llama2-7b``.

Hydra composes conf/ into one config; everything after that is llm2llm.main.run.
"""

import sys

import hydra
from omegaconf import DictConfig

from llm2llm.errors import exit_code
from llm2llm.schemas import register_configs
from llm2llm.sweep_overrides import check_swept_group_keys

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from llm2llm.main import run

    return run(cfg)


if __name__ == "__main__":
    # A multirun override of a swept group's key that some job cannot take: one error line, exit 2
    if exit_code(lambda: check_swept_group_keys(sys.argv[1:]) or 0):
        sys.exit(2)
    main()
