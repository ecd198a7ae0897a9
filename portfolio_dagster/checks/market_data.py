"""Market-data checks on prices: missing trading days, sources that disagree, suspicious jumps."""

import datetime as dt

import dagster as dg
import pandas as pd

from portfolio_dagster.assets.prices import prices
from portfolio_dagster.checks.scope import holding_warehouse, run_window, window_check
from portfolio_dagster.quant.calendar import sessions
from portfolio_dagster.quant.validation import disagreeing, missing_sessions, suspicious_jumps
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

SHOWN = 20
JUMP_MARGIN_DAYS = 31  # calendar days read before the window: the previous close across a gap


def _examples(frame) -> dg.MetadataValue:
    return dg.MetadataValue.md(frame.head(SHOWN).to_markdown(index=False) if len(frame) else "none")


@window_check(
    prices,
    blocking=False,
    description="Every XNYS trading day has a row for every ticker of the universe "
    "within the stored range (each series between its first and last row; configured tickers "
    "on every day). Holidays are not missing.",
)
def prices_no_missing_days(
    context: dg.AssetCheckExecutionContext, settings: PipelineSettings, warehouse: Warehouse
) -> dg.AssetCheckResult:
    start, end = run_window(context)
    spans = warehouse.query(
        'SELECT ticker, min(date) AS "first", max(date) AS "last" FROM prices GROUP BY ticker'
    )
    if spans.empty:
        return dg.AssetCheckResult(passed=True, metadata={"missing": 0})
    lo = max(pd.Timestamp(start), pd.to_datetime(spans["first"]).min())
    hi = min(pd.Timestamp(end), pd.to_datetime(spans["last"]).max() + pd.Timedelta(days=1))
    frame = warehouse.query("SELECT ticker, date FROM prices WHERE date >= ? AND date < ?", [start, end])
    days = sessions(lo.date(), hi.date()) if lo < hi else pd.DatetimeIndex([])
    missing = missing_sessions(frame, days, list(settings.config.data.tickers or ()), spans)
    return dg.AssetCheckResult(
        passed=missing.empty,
        metadata={
            "missing": len(missing),
            "tickers_affected": int(missing["ticker"].nunique()) if len(missing) else 0,
            "examples": _examples(missing),
        },
    )


@dg.asset_check(
    asset=prices,
    description="Where two sources have the same (ticker, date), their closes agree "
    "within data.disagreement_tolerance (relative).",
)
@holding_warehouse
def prices_sources_agree(settings: PipelineSettings, warehouse: Warehouse) -> dg.AssetCheckResult:
    tolerance = settings.config.data.disagreement_tolerance
    frame = warehouse.query(
        "SELECT ticker, date, source, n_sources, disagreement FROM prices WHERE n_sources > 1"
    )
    bad = disagreeing(frame, tolerance) if len(frame) else frame
    return dg.AssetCheckResult(
        passed=bool(len(bad) == 0),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "compared": len(frame),
            "disagreeing": len(bad),
            "tolerance": tolerance,
            "examples": _examples(bad),
        },
    )


@window_check(
    prices,
    blocking=False,
    description="No one-day move beyond +-data.jump_threshold that the next day "
    "reverses (a bad print or an unadjusted split), by the day it reverses.",
)
def prices_no_suspicious_jumps(
    context: dg.AssetCheckExecutionContext, settings: PipelineSettings, warehouse: Warehouse
) -> dg.AssetCheckResult:
    start, end = run_window(context)
    # From a month before the window: the move into its first day and one reversed on it count here;
    # a move on its last day is judged by the run that holds the next day.
    frame = warehouse.query(
        "SELECT ticker, date, close FROM prices WHERE date >= ? AND date < ?",
        [start - dt.timedelta(days=JUMP_MARGIN_DAYS), end],
    )
    jumps = suspicious_jumps(frame, settings.config.data.jump_threshold) if len(frame) else frame
    if len(jumps):
        prior = frame.loc[pd.to_datetime(frame["date"]) < pd.Timestamp(start)].groupby("ticker")["date"].max()
        since = pd.to_datetime(jumps["ticker"].map(prior)).fillna(pd.Timestamp(start))
        jumps = jumps.loc[(pd.to_datetime(jumps["date"]) >= since).to_numpy()]
    return dg.AssetCheckResult(
        passed=bool(len(jumps) == 0),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"flagged": len(jumps), "examples": _examples(jumps)},
    )
