"""raw_prices_<source>: prices exactly as each source delivered them, one table per source."""


import datetime as dt

import dagster as dg
import pandas as pd

from portfolio_dagster.partitions import SINGLE_RUN, TRADING_DAYS, WAREHOUSE_POOL, window
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.sources import read_price_csv, sample_prices
from portfolio_dagster.resources.warehouse import Warehouse

_COMMON = dict(partitions_def=TRADING_DAYS, backfill_policy=SINGLE_RUN, pool=WAREHOUSE_POOL,
               group_name="market_data", kinds={"duckdb", "pandas"})


def _in_window(frame: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    dates = pd.to_datetime(frame["date"]).dt.date
    return frame[(dates >= start) & (dates < end)]


def _store(context: dg.AssetExecutionContext, warehouse: Warehouse, table: str,
           frame: pd.DataFrame, start: dt.date, end: dt.date) -> dg.MaterializeResult:
    frame = frame.assign(ingested_at=pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s"))
    warehouse.replace_range(table, frame, start, end)
    return dg.MaterializeResult(metadata={
        "rows": len(frame), "tickers": int(frame["ticker"].nunique()),
        "newest": str(max(frame["date"])) if len(frame) else "none",
    })


@dg.asset(**_COMMON, description="Bundled sample: 20 US large caps and the S&P 500 index, "
          "adjusted daily closes 1990-01-02..2022-12-28, shipped in the skfolio package.")
def raw_prices_sample(context: dg.AssetExecutionContext, settings: PipelineSettings,
                      warehouse: Warehouse) -> dg.MaterializeResult:
    cfg = settings.config.data
    start, end = window(context)
    frame = sample_prices(cfg.benchmark)
    if cfg.tickers is not None:
        frame = frame[frame["ticker"].isin({*cfg.tickers, cfg.benchmark})]
    return _store(context, warehouse, "raw_prices_sample", _in_window(frame, start, end), start, end)


@dg.asset(**_COMMON, description="A user's CSV file (date,ticker,close[,open,high,low,volume]), as read.")
def raw_prices_csv(context: dg.AssetExecutionContext, settings: PipelineSettings,
                   warehouse: Warehouse) -> dg.MaterializeResult:
    cfg = settings.config.data
    start, end = window(context)
    if not cfg.csv_path:
        raise dg.Failure("the csv source needs data.csv_path (pmx run --csv PATH)")
    frame = read_price_csv(cfg.csv_path)
    return _store(context, warehouse, "raw_prices_csv", _in_window(frame, start, end), start, end)


RAW_PRICE_ASSETS = {"sample": raw_prices_sample, "csv": raw_prices_csv}
