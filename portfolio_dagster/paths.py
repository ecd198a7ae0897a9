"""Where the project keeps its state: the data folder, the warehouse, the Dagster instance."""

from __future__ import annotations

import os
from pathlib import Path

from portfolio_dagster.config import DEFAULT_CONFIG_PATH

EFFECTIVE_CONFIG = "config.effective.yaml"


def home() -> Path:
    return Path(os.environ.get("PMX_HOME", "data")).resolve()


# DuckDB locations that are not local files (MotherDuck); kept as written, never resolved.
REMOTE_WAREHOUSE_PREFIXES = ("md:", "motherduck:")


def warehouse_path() -> Path:
    value = os.environ.get("PMX_WAREHOUSE")
    if value and value.startswith(REMOTE_WAREHOUSE_PREFIXES):
        return Path(value)
    return Path(value or home() / "warehouse.duckdb").resolve()


def config_path() -> Path:
    """PMX_CONFIG if set; else the config of the last `pmx run` on this data folder; else the default."""
    if "PMX_CONFIG" in os.environ:
        return Path(os.environ["PMX_CONFIG"]).resolve()
    effective = home() / EFFECTIVE_CONFIG
    return effective if effective.exists() else DEFAULT_CONFIG_PATH


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME", home() / "dagster_home")).resolve()
