"""The base of every section of the config model (config.py, config_models.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section: unknown keys are refused, and a loaded section is immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
