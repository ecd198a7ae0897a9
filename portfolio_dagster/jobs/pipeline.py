"""Jobs over the asset graph."""

import dagster as dg

from portfolio_dagster.partitions import TRADING_DAYS

# The daily stages for one trading day: market data through allocations (models excluded: the
# incremental `models` asset runs in the retrain job).
DAILY_SELECTION = dg.AssetSelection.groups("market_data", "features", "strategy") | dg.AssetSelection.assets(
    "forecasts")
daily_job = dg.define_asset_job("daily_job", selection=DAILY_SELECTION, partitions_def=TRADING_DAYS)
retrain_job = dg.define_asset_job("retrain_job", selection=dg.AssetSelection.assets("models"))
evaluation_job = dg.define_asset_job("evaluation_job", selection=dg.AssetSelection.groups("evaluation"))
JOBS = (daily_job, retrain_job, evaluation_job)
