"""Jobs over the asset graph, selected by the stages' phase tags (assets/stage.py)."""

import dagster as dg

from portfolio_dagster.assets.raw_prices import RAW_PRICE_ASSETS
from portfolio_dagster.assets.stage import DECISIONS, EVALUATION, MARKET, MODELS, OPERATIONS, PHASE_TAG
from portfolio_dagster.config import PipelineConfig
from portfolio_dagster.partitions import configured_daily_partitions

MODELS_SELECTION = dg.AssetSelection.tag(PHASE_TAG, MODELS)
retrain_job = dg.define_asset_job("retrain_job", selection=MODELS_SELECTION)
evaluation_job = dg.define_asset_job("evaluation_job", selection=dg.AssetSelection.tag(PHASE_TAG, EVALUATION))


def daily_selection(cfg: PipelineConfig) -> dg.AssetSelection:
    """The daily stages for one trading day: market data (the configured sources only) through
    allocations and the paper ledger."""
    unused = [asset for source, asset in RAW_PRICE_ASSETS.items() if source not in cfg.data.sources]
    return (
        dg.AssetSelection.tag(PHASE_TAG, MARKET)
        | dg.AssetSelection.tag(PHASE_TAG, DECISIONS)
        | dg.AssetSelection.tag(PHASE_TAG, OPERATIONS)
    ) - dg.AssetSelection.assets(*unused)


def build_daily_job(cfg: PipelineConfig):
    """daily_job: the daily selection plus the incremental `models` asset, which the daily schedule
    selects only when a retrain period opens; over the daily path's partitions."""
    return dg.define_asset_job(
        "daily_job",
        selection=daily_selection(cfg) | MODELS_SELECTION,
        partitions_def=configured_daily_partitions(cfg),
    )


def build_jobs(cfg: PipelineConfig):
    """Every job of the config: daily_job, retrain_job, evaluation_job."""
    return build_daily_job(cfg), retrain_job, evaluation_job
