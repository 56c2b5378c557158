"""Entry point: ``python train.py task=trec method=finetune student=llama2-7b``.

Hydra composes conf/ into one config; everything after that is llm2llm.main.run.
"""

import hydra
from omegaconf import DictConfig

from llm2llm.schemas import register_configs

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    from llm2llm.main import run

    return run(cfg)


if __name__ == "__main__":
    main()
