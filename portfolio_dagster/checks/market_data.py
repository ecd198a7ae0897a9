"""Market-data checks on prices: missing trading days, sources that disagree, suspicious jumps."""

import datetime as dt

import dagster as dg

from portfolio_dagster.assets.prices import prices
from portfolio_dagster.quant.calendar import sessions
from portfolio_dagster.quant.validation import disagreeing, missing_sessions, suspicious_jumps
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

SHOWN = 20


def _examples(frame) -> dg.MetadataValue:
    return dg.MetadataValue.md(frame.head(SHOWN).to_markdown(index=False) if len(frame) else "none")


@dg.asset_check(
    asset=prices,
    description="Every XNYS trading day has a row for every ticker of the universe "
    "within the stored range (each series between its first and last row; configured tickers "
    "on every day). Holidays are not missing.",
)
def prices_no_missing_days(settings: PipelineSettings, warehouse: Warehouse) -> dg.AssetCheckResult:
    frame = warehouse.query("SELECT ticker, date FROM prices")
    if frame.empty:
        return dg.AssetCheckResult(passed=True, metadata={"missing": 0})
    lo, hi = frame["date"].min(), frame["date"].max()
    days = sessions(lo, hi + dt.timedelta(days=1))
    missing = missing_sessions(frame, days, list(settings.config.data.tickers or ()))
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


@dg.asset_check(
    asset=prices,
    description="No one-day move beyond +-data.jump_threshold that the next day "
    "reverses (a bad print or an unadjusted split).",
)
def prices_no_suspicious_jumps(settings: PipelineSettings, warehouse: Warehouse) -> dg.AssetCheckResult:
    frame = warehouse.query("SELECT ticker, date, close FROM prices")
    jumps = suspicious_jumps(frame, settings.config.data.jump_threshold) if len(frame) else frame
    return dg.AssetCheckResult(
        passed=bool(len(jumps) == 0),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"flagged": len(jumps), "examples": _examples(jumps)},
    )


MARKET_DATA_CHECKS = (prices_no_missing_days, prices_sources_agree, prices_no_suspicious_jumps)
