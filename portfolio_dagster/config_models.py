"""The `models` section of the config model: the model families' settings and the candidates of nested
walk-forward selection. Part of the one config model; import it from portfolio_dagster.config."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from portfolio_dagster.config_section import Section as _Section

Frequency = Literal["daily", "weekly", "monthly", "quarterly", "yearly"]


class _BoostedTreesConfig(_Section):
    """Settings LightGBM and XGBoost share."""

    n_estimators: int = Field(100, ge=1)
    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    early_stopping_rounds: int | None = 20
    # Whole dates of fit rows, at most this many: skill stopped growing near 100k (README Scale).
    max_train_rows: int | None = Field(100_000, ge=1)


class LightGBMConfig(_BoostedTreesConfig):
    # lambdarank: each date a query, relevance the target's within-date quintile (a ranking score).
    objective: Literal["regression", "lambdarank"] = "regression"
    num_leaves: int = 15
    min_child_samples: int = 200


class XGBoostConfig(_BoostedTreesConfig):
    objective: Literal["reg:squarederror", "rank:pairwise"] = "reg:squarederror"
    max_depth: int = 4
    min_child_weight: float = 50.0


class TCNConfig(_Section):
    lookback: int = Field(60, ge=2)
    channels: int = Field(8, ge=1)
    levels: int = Field(5, ge=1)  # dilations 1..2^(levels-1); receptive field 1 + 2 * (2^levels - 1)
    epochs: int = Field(2, ge=1)
    batch_size: int = 256
    learning_rate: float = 0.003
    patience: int = 1
    max_train_rows: int | None = 8000


class LSTMConfig(_Section):
    lookback: int = Field(60, ge=2)
    hidden: int = Field(16, ge=1)
    layers: int = Field(1, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)  # between stacked layers (layers > 1)
    epochs: int = Field(2, ge=1)
    batch_size: int = 256
    learning_rate: float = 0.003
    patience: int = 1
    max_train_rows: int | None = 8000


class BayesianRidgeConfig(_Section):
    # The linear fits' skill did not grow past 10k rows (README Scale); whole dates.
    max_train_rows: int | None = Field(10_000, ge=1)


class RegimeAdaptiveConfig(_Section):
    max_train_rows: int | None = Field(5_000, ge=1)


MODEL_FAMILIES = ("lightgbm", "xgboost", "tcn", "lstm", "bayesian_ridge", "regime_adaptive")


class CandidateConfig(_Section):
    """Another configuration for nested walk-forward selection: a target and per-family overrides."""

    name: str
    target: Literal["return", "excess_return", "rank"] = "return"
    params: dict[str, dict] = {}  # family -> parameter overrides, e.g. {lightgbm: {objective: lambdarank}}

    @field_validator("params")
    @classmethod
    def _families(cls, v: dict[str, dict]) -> dict[str, dict]:
        unknown = sorted(set(v) - set(MODEL_FAMILIES))
        if unknown:
            raise ValueError(f"unknown model family {unknown[0]!r} in candidate params")
        return v


class ModelsConfig(_Section):
    # Families trained and forecast; empty: ML off (forecasts stay empty, signals use the rule-based path).
    enabled: tuple[
        Literal["lightgbm", "xgboost", "tcn", "lstm", "bayesian_ridge", "regime_adaptive"], ...
    ] = ("lightgbm", "xgboost", "bayesian_ridge", "regime_adaptive")
    retrain_frequency: Frequency = "yearly"
    window: Literal["expanding", "rolling"] = "expanding"
    rolling_days: int = Field(2520, ge=50)
    min_train_days: int = Field(1000, ge=50)
    embargo_days: int = Field(5, ge=0)
    # Each training window ends: fit rows | purge | validation (early stopping; the output map of
    # cross-sectional models) | purge | calibration (the last days: conformal intervals, ensemble weights).
    validation_days: int = Field(126, ge=20)
    calibration_days: int = Field(126, ge=20)
    # What the families learn: the forward return, its excess over the universe's mean, or its rank.
    target: Literal["return", "excess_return", "rank"] = "return"
    # More configurations to choose among by nested walk-forward (quant/models/selection.py); this
    # section's own settings are the first candidate, `base`. Each one is trained at every retrain date.
    candidates: tuple[CandidateConfig, ...] = ()

    @field_validator("candidates")
    @classmethod
    def _distinct(cls, v: tuple[CandidateConfig, ...]) -> tuple[CandidateConfig, ...]:
        names = ["base", *(c.name for c in v)]
        if len(set(names)) != len(names):
            raise ValueError("models.candidates need distinct names, none of them 'base'")
        return v

    # The regime HMM (also the `regimes` table) needs this many days of market history before its first fit.
    regime_min_train_days: int = Field(500, ge=100)
    seed: int = 7
    threads: int = Field(1, ge=1)
    lightgbm: LightGBMConfig = LightGBMConfig()
    xgboost: XGBoostConfig = XGBoostConfig()
    tcn: TCNConfig = TCNConfig()
    lstm: LSTMConfig = LSTMConfig()
    bayesian_ridge: BayesianRidgeConfig = BayesianRidgeConfig()
    regime_adaptive: RegimeAdaptiveConfig = RegimeAdaptiveConfig()

    def family_params(self) -> dict[str, dict]:
        return {f: getattr(self, f).model_dump() for f in MODEL_FAMILIES}
