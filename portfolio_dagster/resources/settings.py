"""The pipeline configuration as a Dagster resource: a path, validated into PipelineConfig once."""

from __future__ import annotations

import dagster as dg

from portfolio_dagster.config import PipelineConfig, load_config


class PipelineSettings(dg.ConfigurableResource):
    config_path: str

    @property
    def config(self) -> PipelineConfig:
        return load_config(self.config_path)
