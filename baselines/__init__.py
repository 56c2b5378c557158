"""Baselines: EDA and AugGPT (example -> examples augmenters), S2L (a data selector), and budget
matching against an LLM2LLM run. Each is a plain function; ``llm2llm.methods`` wires them in."""

from baselines.auggpt import auggpt_augment
from baselines.budget import per_seed_counts, read_budget, split_budget
from baselines.eda import eda_augment
from baselines.s2l import loss_trajectories, s2l_select, select_by_trajectories

__all__ = ["auggpt_augment", "eda_augment", "per_seed_counts", "read_budget", "split_budget",
           "s2l_select", "select_by_trajectories", "loss_trajectories"]
