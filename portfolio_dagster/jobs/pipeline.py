"""Jobs over the asset graph."""

import dagster as dg

from portfolio_dagster import paths
from portfolio_dagster.assets.raw_prices import RAW_PRICE_ASSETS
from portfolio_dagster.config import load_config
from portfolio_dagster.partitions import TRADING_DAYS

# The daily stages for one trading day: market data (the configured sources only) through
# allocations and the paper ledger. The incremental `models` asset is in the job, but the daily schedule selects it only
# when a retrain period opens.
_UNUSED_SOURCES = [
    RAW_PRICE_ASSETS[s] for s in RAW_PRICE_ASSETS if s not in load_config(paths.config_path()).data.sources
]
DAILY_SELECTION = (
    dg.AssetSelection.groups("market_data", "features", "strategy")
    | dg.AssetSelection.assets("forecasts", "paper_ledger")
) - dg.AssetSelection.assets(*_UNUSED_SOURCES)
daily_job = dg.define_asset_job(
    "daily_job", selection=DAILY_SELECTION | dg.AssetSelection.assets("models"), partitions_def=TRADING_DAYS
)
retrain_job = dg.define_asset_job("retrain_job", selection=dg.AssetSelection.assets("models"))
evaluation_job = dg.define_asset_job("evaluation_job", selection=dg.AssetSelection.groups("evaluation"))
JOBS = (daily_job, retrain_job, evaluation_job)
