"""The one configuration model: YAML in config/, validated here, loaded once per path."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from portfolio_dagster.config_models import MODEL_FAMILIES as MODEL_FAMILIES
from portfolio_dagster.config_models import BayesianRidgeConfig as BayesianRidgeConfig
from portfolio_dagster.config_models import CandidateConfig as CandidateConfig
from portfolio_dagster.config_models import Frequency as Frequency
from portfolio_dagster.config_models import LightGBMConfig as LightGBMConfig
from portfolio_dagster.config_models import LSTMConfig as LSTMConfig
from portfolio_dagster.config_models import ModelsConfig
from portfolio_dagster.config_models import RegimeAdaptiveConfig as RegimeAdaptiveConfig
from portfolio_dagster.config_models import TCNConfig as TCNConfig
from portfolio_dagster.config_models import XGBoostConfig as XGBoostConfig
from portfolio_dagster.config_section import Section as _Section
from portfolio_dagster.quant.cash import UNINVESTED_CASH
from portfolio_dagster.quant.features import DEFAULT_MODEL_FEATURES as _DEFAULT_MODEL_FEATURES
from portfolio_dagster.quant.features import selected_feature_names

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config" / "pipeline.yaml"
SOURCES = ("sample", "csv", "yfinance", "alpha_vantage", "finnhub")
Source = Literal["sample", "csv", "yfinance", "alpha_vantage", "finnhub"]


# The data keys that choose the dates a run recomputes (the CLI's --start/--end), not its results' lineage.
RUN_RANGE_KEYS = ("start", "end")


class ConfigError(ValueError):
    """A configuration the pipeline cannot run with; the message is one line for the user."""


class LiveSourcesConfig(_Section):
    """The live providers (yfinance, alpha_vantage, finnhub): tier rate limits, retries, cache, overlap."""

    requests_per_minute: dict[str, float] = {"yfinance": 60.0, "alpha_vantage": 5.0, "finnhub": 60.0}
    max_retries: int = Field(4, ge=0)
    backoff_seconds: float = Field(1.0, ge=0)  # 1, 2, 4, 8 s between attempts
    timeout_seconds: float = Field(30.0, gt=0)
    cache_dir: str | None = "http_cache"  # relative: under PMX_HOME; None: no on-disk cache
    overlap_days: int = Field(5, ge=0)  # a daily run refetches this many trading days before it


class DataConfig(_Section):
    sources: tuple[Source, ...] = ("sample",)
    csv_path: str | None = None
    tickers: tuple[str, ...] | None = None
    benchmark: str = "SP500"
    start: dt.date = dt.date(1990, 1, 2)
    end: dt.date = dt.date(2022, 12, 28)
    live: LiveSourcesConfig = LiveSourcesConfig()
    disagreement_tolerance: float = Field(0.005, ge=0)  # relative close difference between sources
    jump_threshold: float = Field(0.5, gt=0)  # a one-day move beyond +-50% that reverses

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        if not self.sources:
            raise ValueError("data.sources must name at least one source")
        if "csv" in self.sources and not self.csv_path:
            raise ValueError("data.csv_path is required when the csv source is used")
        if self.end < self.start:
            raise ValueError(f"data.end {self.end} is before data.start {self.start}")
        return self


class FeaturesConfig(_Section):
    # Trading days read before a window; at least features.LOOKBACK (253) so every feature is complete.
    lookback_days: int = Field(300, ge=253)
    # The models' inputs, by name (docs/features.md); None: all features.
    selected: tuple[str, ...] | None = _DEFAULT_MODEL_FEATURES

    @field_validator("selected")
    @classmethod
    def _known(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is not None:
            if not v:
                raise ValueError("features.selected names no feature (null selects all)")
            selected_feature_names(v)  # raises on an unknown name
        return v


class TargetsConfig(_Section):
    horizons: tuple[int, ...] = (1, 5, 21, 63)

    @field_validator("horizons")
    @classmethod
    def _positive(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(h <= 0 for h in v):
            raise ValueError("targets.horizons must be positive trading-day counts")
        return tuple(sorted(set(v)))


class StrategyConfig(_Section):
    """Signals, the barbell and its risk controls (see quant/allocation.py for the daily procedure)."""

    mode: Literal["ml", "rule_based"] = "ml"  # ml: rule + skill-scaled alpha + risk forecast (README)
    signal_horizon: int = 21
    kelly_fraction: float = Field(0.5, gt=0, le=1)
    covariance_days: int = Field(252, ge=20)  # trailing returns of the shrunk (Ledoit-Wolf) covariance
    max_position: float = Field(0.10, gt=0, le=1)
    min_confidence: float = Field(0.55, ge=0, le=1)
    risky_share: float = Field(0.80, ge=0, le=1)  # the barbell's largest risky sleeve
    top_k: int = Field(10, ge=1)
    # First: cash; second (optional): the long-duration bond proxy. Missing prices: that asset is skipped.
    # []: a stock-only input; read as [CASH] with uninvested_cash on.
    safe_assets: tuple[str, ...] = ("CASH", "BOND")
    # The first safe asset is uninvested cash held at a constant price of 1 (earning 0), not a priced
    # instrument: an allocation row like any other, never fetched, the ledger keeps it as cash_usd.
    uninvested_cash: bool = False
    persistence_days: int = Field(3, ge=1)  # a name enters only after this many positive signals in a row
    max_turnover: float = Field(0.5, gt=0, le=1)  # one-way turnover of a scheduled rebalance, at most
    vol_target: float = Field(0.20, gt=0)  # annualized market volatility above which the risky sleeve shrinks
    vol_days: int = Field(63, ge=5)
    regime_derisk: float = Field(
        0.5, ge=0, le=1
    )  # risky sleeve x (1 - this x risk-off probability of the regime)
    bond_momentum_days: int = Field(63, ge=5)  # the rate forecast: trailing bond-over-cash return
    bond_share_long: float = Field(
        0.75, ge=0, le=1
    )  # bond share of the safe sleeve when rates are forecast down
    bond_share_short: float = Field(0.25, ge=0, le=1)  # ... and when forecast up
    drawdown_trigger: float = Field(0.15, gt=0, lt=1)  # trailing drawdown of the strategy that de-risks
    drawdown_days: int = Field(252, ge=5)  # window of the running peak
    drawdown_risky_scale: float = Field(0.5, ge=0, le=1)  # risky sleeve multiplier while de-risked
    # Between rebalances: a risky sleeve this much above the day's volatility-targeted share is cut to it.
    vol_breach_tolerance: float = Field(0.25, ge=0)
    emergency_stop: bool = False  # manual switch: everything to the safe sleeve

    @model_validator(mode="before")
    @classmethod
    def _stock_only(cls, data: object) -> object:
        if isinstance(data, dict) and "safe_assets" in data and not data["safe_assets"]:
            return {**data, "safe_assets": [UNINVESTED_CASH], "uninvested_cash": True}
        return data

    def priced_safe_assets(self) -> tuple[str, ...]:
        """The safe assets that have price series (all but uninvested cash)."""
        return self.safe_assets[1:] if self.uninvested_cash else self.safe_assets


class BacktestConfig(_Section):
    start: dt.date = dt.date(2000, 1, 3)
    cost_bps: float = Field(10.0, ge=0)  # commission, bps of traded value
    half_spread_bps: float = Field(0.0, ge=0)
    impact_coefficient: float = Field(1.0, ge=0)  # Y of the square-root impact law
    aum_usd: float = Field(10_000_000.0, gt=0)  # the backtest book's starting capital
    fallback_adv_usd: float | None = Field(
        None, gt=0
    )  # assumed ADV where volume is missing; None: not estimable
    rebalance: Literal["daily", "weekly", "monthly"] = "monthly"
    configurations_tried: int = Field(1, ge=1)
    rolling_window_days: int = Field(252, ge=20)
    # The trading rule (backtest and paper ledger): a risky holding drifting above
    # strategy.max_position x (1 + cap_tolerance) is trimmed back on the next session.
    cap_tolerance: float = Field(0.2, ge=0)


class PaperConfig(_Section):
    """The paper-trading ledger: the trading rule applied day by day to a book of shares and cash."""

    initial_cash_usd: float = Field(1_000_000.0, gt=0)  # starting capital on the ledger's first session
    fractional_shares: bool = False  # whole shares by default


class ReportConfig(_Section):
    title: str = "Portfolio Maximizer"


class OperationsConfig(_Section):
    """Unattended operation: schedules and the forecast-skill decay sensor."""

    timezone: str = "America/New_York"  # the exchange's clock for the schedules
    daily_cron: str = "0 18 * * 1-5"  # after the US close, Mon-Fri
    retrain_cron: str = "0 6 * * 6"  # weekly retraining, Saturday morning
    skill_window_days: int = Field(63, ge=5)  # realized as-of dates in the rolling skill window
    retrain_below: float = Field(0.55, ge=0, le=1)  # directional accuracy that triggers a retrain
    emergency_below: float = Field(0.45, ge=0, le=1)  # ... that switches allocations to the safe sleeve
    min_ic: float = 0.0  # rank IC at or below this also triggers a retrain
    retrain_cooldown_sessions: int = Field(
        21, ge=0
    )  # sessions between two decay-triggered retrains, at least
    sensor_interval_seconds: int = Field(3600, ge=30)
    # Feature drift: population stability index of each model input, the newest drift_window_days vs the
    # training window of the model set in use; above drift_threshold the feature_drift check warns.
    drift_threshold: float = Field(0.2, gt=0)
    drift_window_days: int = Field(63, ge=5)
    drift_bins: int = Field(10, ge=2)  # quantile bins of the training window
    # absolute: PSI > drift_threshold. beyond_training: and above the PSI of every drift_window_days run of
    # the training window itself (persistent inputs score high PSIs on short windows with no drift).
    drift_rule: Literal["absolute", "beyond_training"] = "beyond_training"
    drift_requests_retrain: bool = False  # the feature_drift sensor requests retrain_job on drift
    # The daily assets' partitions begin at the last week of data.start..data.end (the history is in the
    # `<stage>_history` assets); a date before it starts them there instead (UI backfills of any day range).
    daily_partitions_from: dt.date | None = None


class AlertsConfig(_Section):
    """Sinks of every alert besides the warehouse table `alerts` (resources/alerts.py)."""

    jsonl: bool = True  # append one JSON line per alert to jsonl_file
    jsonl_file: str = "alerts.jsonl"  # relative: under PMX_HOME
    # The NAME of the environment variable holding the webhook URL (never the URL: it is a secret);
    # unset or empty in the environment: no webhook.
    webhook_url_env: str | None = "PMX_ALERT_WEBHOOK_URL"
    webhook_timeout_seconds: float = Field(5.0, gt=0)
    webhook_retries: int = Field(2, ge=0)  # on a connection error, timeout or 5xx


class PipelineConfig(_Section):
    data: DataConfig = DataConfig()
    features: FeaturesConfig = FeaturesConfig()
    targets: TargetsConfig = TargetsConfig()
    models: ModelsConfig = ModelsConfig()
    strategy: StrategyConfig = StrategyConfig()
    backtest: BacktestConfig = BacktestConfig()
    paper: PaperConfig = PaperConfig()
    report: ReportConfig = ReportConfig()
    operations: OperationsConfig = OperationsConfig()
    alerts: AlertsConfig = AlertsConfig()

    @model_validator(mode="after")
    def _check(self) -> PipelineConfig:
        if self.strategy.signal_horizon not in self.targets.horizons:
            raise ValueError(
                f"strategy.signal_horizon {self.strategy.signal_horizon} is not one of targets.horizons"
            )
        return self

    def fingerprint(self, *sections: str) -> str:
        """A short stable hash of the named sections (all when none): model lineage and caching. The
        run's range (data.start, data.end) is left out: it says what a run recomputes, not what shaped a
        model or a decision, so re-running a range finds the model sets already trained."""
        dump = self.model_dump(mode="json")
        dump["data"] = {k: v for k, v in dump["data"].items() if k not in RUN_RANGE_KEYS}
        chosen = {k: dump[k] for k in (sections or tuple(dump))}
        return hashlib.sha256(json.dumps(chosen, sort_keys=True).encode()).hexdigest()[:12]

    def with_overrides(self, **data_overrides: object) -> PipelineConfig:
        """A copy with `data` fields replaced, validated again (the CLI's flags)."""
        data = self.data.model_dump() | {k: v for k, v in data_overrides.items() if v is not None}
        try:
            return self.model_validate(self.model_dump() | {"data": data})
        except ValidationError as exc:
            raise ConfigError(_one_line(exc)) from None

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"invalid config{' at ' + where if where else ''}: {err['msg']}"


def overlay(base: dict, top: dict) -> dict:
    """`top` over `base`: mappings merge key by key, any other value (lists, null) replaces."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} is not a mapping of sections")
    return raw


def load_config(path: str | Path = DEFAULT_CONFIG_PATH) -> PipelineConfig:
    """The file at `path` overlaid on config/pipeline.yaml (DESIGN.md: a key a file does not name has
    pipeline.yaml's value), validated; loaded again when either file changes (a process that runs
    twice, or a daemon whose config is edited, never sees a stale copy)."""
    path = Path(path)
    return _load_config(path, _version(path), _version(DEFAULT_CONFIG_PATH))


def _version(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=8)
def _load_config(path: Path, _version: object, _base_version: object) -> PipelineConfig:
    raw = _read_yaml(path)
    if path.resolve() != DEFAULT_CONFIG_PATH:
        raw = overlay(_read_yaml(DEFAULT_CONFIG_PATH), raw)
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_one_line(exc)}") from None
