"""regimes: the market regime known at each close, from a point-in-time 4-state GaussianHMM."""

import datetime as dt
import json

import dagster as dg
import pandas as pd

from portfolio_dagster.assets.prices import prices
from portfolio_dagster.assets.stage import DECISIONS, StageContext, daily_stage
from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.partitions import PARTITIONS_START
from portfolio_dagster.quant import walk_forward
from portfolio_dagster.quant.regimes import (
    REGIME_STATES,
    RegimeHMM,
    fit_key,
    market_features,
    regime_table,
    walk_forward_probabilities,
)
from portfolio_dagster.resources.artifacts import ArtifactStore
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

HMM_CACHE_DIR = "regime_hmm"


def _cached_fit(artifacts: ArtifactStore):
    """Fits stored as JSON parameters under the model store, keyed by a hash of the fit's inputs,
    so models, forecasts and regimes share one fit per refit date."""
    folder = artifacts.models_dir / HMM_CACHE_DIR

    def fit(values, seed):
        path = folder / f"{fit_key(values, seed)}.json"
        if path.is_file():
            try:
                return RegimeHMM.from_json(path.read_text())
            except (json.JSONDecodeError, KeyError, ValueError):
                pass  # an unreadable cache entry is refitted and rewritten below
        hmm = RegimeHMM.fit(values, seed)
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(hmm.to_json())
        return hmm

    return fit


def regime_probabilities(
    warehouse: Warehouse, artifacts: ArtifactStore, cfg: PipelineConfig, start: dt.date | None, end: dt.date
) -> pd.DataFrame:
    """Point-in-time regime probabilities (date index x REGIME_STATES) for start <= date < end
    (all dates before `end` when start is None), from the whole stored market history (never from the
    run's data.start: a value must not depend on where a re-run's range begins)."""
    m = cfg.models
    close = warehouse.universe_panels(PARTITIONS_START, end, cfg)["close"]
    empty = pd.DataFrame(columns=list(REGIME_STATES), index=pd.DatetimeIndex([], name="date"))
    if close.empty:
        return empty
    feats = market_features(close)
    if len(feats) <= m.regime_min_train_days:
        return empty
    refits = walk_forward.retrain_dates(
        feats.index, feats.index[m.regime_min_train_days].date(), m.retrain_frequency
    )
    if start is not None:
        # Only the fits whose validity reaches the window: the last refit <= start onward.
        refits = refits[max(0, int(refits.searchsorted(pd.Timestamp(start), side="right")) - 1) :]
    probs = walk_forward_probabilities(
        feats,
        refits,
        m.seed,
        m.regime_min_train_days,
        m.rolling_days if m.window == "rolling" else None,
        fit=_cached_fit(artifacts),
    )
    keep = probs.index < pd.Timestamp(end)
    if start is not None:
        keep &= probs.index >= pd.Timestamp(start)
    return probs[keep]


@daily_stage(
    phase=DECISIONS,
    group_name="strategy",
    kinds={"duckdb", "hmmlearn"},
    deps=[prices],
    description="Market regime at each close: forward-filtered 4-state GaussianHMM on equal-weight market "
    "return and volatility, refitted on the models' retrain schedule with data before each refit.",
)
def regimes(
    context: StageContext,
    settings: PipelineSettings,
    warehouse: Warehouse,
    artifacts: ArtifactStore,
) -> dg.MaterializeResult:
    cfg = settings.config
    start, end = context.window
    table = regime_table(regime_probabilities(warehouse, artifacts, cfg, start, end))
    warehouse.replace_range("regimes", table, start, end)
    return dg.MaterializeResult(
        metadata={
            "rows": len(table),
            "states": dg.MetadataValue.json(table["state"].value_counts().to_dict() if len(table) else {}),
            "refit": cfg.models.retrain_frequency,
            "first_date": str(table["date"].min().date()) if len(table) else "none",
        }
    )
