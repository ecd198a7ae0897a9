"""features: point-in-time features per (ticker, date) of the tradable universe (docs/features.md)."""

import dagster as dg
import pandas as pd

from portfolio_dagster.assets.prices import prices
from portfolio_dagster.assets.stage import MARKET, StageContext, daily_stage
from portfolio_dagster.assets.threads import one_ahead
from portfolio_dagster.partitions import trading_days_before, year_pieces
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
    lookback = max(cfg.features.lookback_days, feature_set.LOOKBACK)
    # Pieces of whole years, each computed from its own lookback and written in its own transaction:
    # a history load at breadth holds two pieces' features (one written, the next computed), not every
    # year's (500 names x 20 years: 2.5 M rows x 143 features).
    summary = FeatureSummary()
    market_source = "equal-weight universe"

    def piece(bounds: tuple) -> tuple:
        piece_start, piece_end = bounds
        first = trading_days_before(piece_start, lookback)
        history = warehouse.universe_prices(first, piece_end, cfg)
        market = benchmark_close(warehouse, cfg.data.benchmark, first, piece_end)
        table = feature_set.compute(history, market if len(market) else None, since=piece_start)
        return piece_start, piece_end, table, len(market) > 0

    pieces = year_pieces(start, end, _years_per_piece(warehouse, start, end))
    # The next piece is computed while one is written (it reads prices only): two pieces at most.
    for piece_start, piece_end, table, benchmarked in one_ahead(map(piece, pieces)):
        warehouse.replace_range("features", table, piece_start, piece_end)
        summary.add(table)
        if benchmarked:
            market_source = f"benchmark {cfg.data.benchmark}"
        del table
    return dg.MaterializeResult(metadata=summary.metadata(cfg, market_source))


# Rows (names x trading days) a features piece computes at most, beside its lookback; whole years.
PIECE_ROWS = 1_000_000


def _years_per_piece(warehouse: Warehouse, start, end) -> int:
    names = warehouse.query(
        "SELECT count(DISTINCT ticker) AS n FROM prices WHERE date >= ? AND date < ?", [start, end]
    )
    n = int(names["n"].iat[0]) if len(names) else 0
    return max(1, PIECE_ROWS // max(1, n * 252))


class FeatureSummary:
    """The features metadata of a run, accumulated over its pieces."""

    def __init__(self) -> None:
        self.rows, self.tickers, self.newest = 0, set(), None
        self.nan_counts = pd.Series(0.0, index=list(feature_set.FEATURE_NAMES))

    def add(self, table: pd.DataFrame) -> None:
        if not len(table):
            return
        self.rows += len(table)
        self.tickers |= set(table["ticker"].unique())
        self.nan_counts += table[list(feature_set.FEATURE_NAMES)].isna().sum().astype(float)
        newest = table["date"].max()
        self.newest = newest if self.newest is None else max(self.newest, newest)

    def metadata(self, cfg, market_source: str) -> dict:
        names = list(feature_set.FEATURE_NAMES)
        nan_share = self.nan_counts / self.rows if self.rows else pd.Series(dtype=float)
        selected = feature_set.selected_feature_names(cfg.features.selected)
        by_group = pd.DataFrame(
            {"group": [s.group for s in feature_set.SPECS], "nan_share": nan_share.reindex(names)}
        )
        summary = by_group.groupby("group").agg(
            features=("nan_share", "size"), mean_nan_share=("nan_share", "mean")
        )
        return {
            "rows": self.rows,
            "tickers": len(self.tickers),
            "features": len(names),
            "selected_for_models": len(selected),
            "newest": str(pd.Timestamp(self.newest).date()) if self.newest is not None else "none",
            "market": market_source,
            "nan_share_by_group": dg.MetadataValue.md(summary.round(4).to_markdown()),
            "nan_share": dg.MetadataValue.json({k: round(float(v), 4) for k, v in nan_share.items()}),
            "all_nan": dg.MetadataValue.json([k for k, v in nan_share.items() if v == 1.0]),
        }
