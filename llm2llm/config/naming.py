"""Run directory names: the resolvers conf/config.yaml's ``hydra.run.dir`` and ``hydra.sweep.subdir`` use."""

from __future__ import annotations

import hashlib
import re


def format_size(size: float) -> str:
    """16.0 -> '16', 0.0005 -> '0.0005': seed sizes as they appear in run directory names."""
    return f"{float(size):g}"


def experiment_dir(config_name: str | None) -> str:
    """'/sst2_cpu' for a run composed from another primary config (a sweep file); '' for conf/config.yaml."""
    return "" if config_name in (None, "", "config") else f"/{config_name}"


#: run directory names longer than this get their overrides part shortened with a hash
MAX_OVERRIDES_DIR = 120


def overrides_dir(override_dirname: str | None) -> str:
    """The run directory's last part for keys set beyond the usual ones: '' or '/method.k=2,teacher=gpt-4'.

    Hydra's ``override_dirname`` is deterministic (keys sorted); characters that do not belong in a
    directory name ('/' of a path, '${}' of an interpolation) become '_', and a very long name keeps
    its start plus a hash of the whole, so it stays unique.
    """
    if not override_dirname:
        return ""
    name = re.sub(r"[^A-Za-z0-9._=,+\-]", "_", override_dirname)
    if len(name) > MAX_OVERRIDES_DIR:
        name = f"{name[:MAX_OVERRIDES_DIR - 9]}~{hashlib.sha256(override_dirname.encode()).hexdigest()[:8]}"
    return f"/{name}"
