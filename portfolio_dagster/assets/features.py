"""features: point-in-time features per (ticker, date) of the tradable universe (docs/features.md)."""

import dagster as dg
import pandas as pd

from portfolio_dagster.assets.prices import prices
from portfolio_dagster.assets.stage import MARKET, StageContext, daily_stage
from portfolio_dagster.partitions import trading_days_before
from portfolio_dagster.quant import features as feature_set
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse


def benchmark_close(warehouse: Warehouse, ticker: str, start, end) -> pd.Series:
    """The benchmark's close by date (the market of beta/correlation features); empty when absent.
    Read on its own: universe_prices excludes the benchmark."""
    frame = warehouse.query(
        "SELECT date, close FROM prices WHERE ticker = ? AND date >= ? AND date < ? ORDER BY date",
        [ticker, start, end],
    )
    if frame.empty:
        return pd.Series(dtype=float)
    return pd.Series(frame["close"].to_numpy(dtype=float), index=pd.to_datetime(frame["date"]))


@daily_stage(
    phase=MARKET,
    group_name="features",
    kinds={"duckdb", "numpy"},
    deps=[prices],
    description="The seed's features, an Alpha158-style library and cross-sectional ranks per "
    "(ticker, date); a value at a date uses only prices dated on or before it. A run reads only its "
    "window plus the lookback the longest feature needs.",
)
def features(context: StageContext, settings: PipelineSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    cfg = settings.config
    start, end = context.window
    first = trading_days_before(start, max(cfg.features.lookback_days, feature_set.LOOKBACK))
    history = warehouse.universe_prices(first, end, cfg)
    market = benchmark_close(warehouse, cfg.data.benchmark, first, end)
    table = feature_set.compute(history, market if len(market) else None, since=start)  # history < end
    warehouse.replace_range("features", table, start, end)
    return dg.MaterializeResult(
        metadata=feature_metadata(
            table,
            cfg,
            market_source=(f"benchmark {cfg.data.benchmark}" if len(market) else "equal-weight universe"),
        )
    )


def feature_metadata(table: pd.DataFrame, cfg, market_source: str) -> dict:
    names = list(feature_set.FEATURE_NAMES)
    nan_share = table[names].isna().mean() if len(table) else pd.Series(dtype=float)
    selected = feature_set.selected_feature_names(cfg.features.selected)
    by_group = pd.DataFrame(
        {"group": [s.group for s in feature_set.SPECS], "nan_share": nan_share.reindex(names)}
    )
    summary = by_group.groupby("group").agg(
        features=("nan_share", "size"), mean_nan_share=("nan_share", "mean")
    )
    return {
        "rows": len(table),
        "tickers": int(table["ticker"].nunique()) if len(table) else 0,
        "features": len(names),
        "selected_for_models": len(selected),
        "newest": str(table["date"].max().date()) if len(table) else "none",
        "market": market_source,
        "nan_share_by_group": dg.MetadataValue.md(summary.round(4).to_markdown()),
        "nan_share": dg.MetadataValue.json({k: round(float(v), 4) for k, v in nan_share.items()}),
        "all_nan": dg.MetadataValue.json([k for k, v in nan_share.items() if v == 1.0]),
    }
