"""backtest: ml_barbell against 1/N and the index over the same days, net of costs."""


import base64

import dagster as dg
import numpy as np
import pandas as pd

from portfolio_dagster.assets.allocations import allocations
from portfolio_dagster.assets.forecasts import forecasts
from portfolio_dagster.assets.targets import targets
from portfolio_dagster.partitions import WAREHOUSE_POOL
from portfolio_dagster.quant import backtest as bt
from portfolio_dagster.quant import metrics
from portfolio_dagster.quant.panel import wide
from portfolio_dagster.quant.report import equity_png, markdown_table, summary_table
from portfolio_dagster.quant.targets import target_name
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

STRATEGIES = ("ml_barbell", "equal_weight", "benchmark")


@dg.asset(pool=WAREHOUSE_POOL, group_name="evaluation", kinds={"duckdb", "pandas"},
          deps=[allocations, forecasts, targets])
def backtest(context: dg.AssetExecutionContext, settings: PipelineSettings,
             warehouse: Warehouse) -> dg.MaterializeResult:
    cfg = settings.config
    alloc = warehouse.query("SELECT date, ticker, weight FROM allocations WHERE date >= ? ORDER BY date",
                            [cfg.backtest.start])
    if alloc.empty:
        raise dg.Failure("no allocations on or after backtest.start: materialize allocations first")
    alloc["date"] = pd.to_datetime(alloc["date"])
    px = warehouse.query("SELECT ticker, date, close FROM prices WHERE date >= ? ORDER BY date",
                         [alloc["date"].min().date()])
    px["date"] = pd.to_datetime(px["date"])
    returns = wide(px, "close").pct_change(fill_method=None)
    decisions = pd.DatetimeIndex(alloc["date"].unique()).sort_values()
    # Same days for every strategy: from the first decision to the day after the last one.
    after_last = returns.index[returns.index > decisions.max()]
    returns = returns.loc[: after_last.min() if len(after_last) else decisions.max()]
    rebalance = bt.rebalance_dates(decisions, cfg.backtest.rebalance)
    cost = cfg.backtest.cost_bps
    universe = [t for t in returns.columns if t not in (cfg.data.benchmark, *cfg.strategy.safe_assets)]
    closes = wide(px, "close").reindex(index=decisions, columns=universe)
    equal = closes.notna().astype(float)
    equal = equal.div(equal.sum(axis=1), axis=0).fillna(0.0)
    runs = {
        "ml_barbell": bt.simulate(alloc.pivot(index="date", columns="ticker", values="weight").fillna(0.0),
                                  returns, rebalance, cost),
        "equal_weight": bt.simulate(equal, returns, rebalance, cost),
        "benchmark": bt.simulate(pd.DataFrame({cfg.data.benchmark: 1.0}, index=decisions[:1]),
                                 returns, decisions[:1], 0.0),
    }
    daily = pd.concat([r.assign(strategy=s) for s, r in runs.items()], ignore_index=True)
    bench = runs["benchmark"].set_index("date")["net_return"]
    summary_rows = []
    for name, run in runs.items():
        perf = metrics.performance(run["net_return"].to_numpy(), run["turnover"].to_numpy(),
                                   bench.reindex(run["date"]).fillna(0.0).to_numpy(),
                                   cfg.backtest.configurations_tried if name == "ml_barbell" else 1)
        # Capacity needs the market-impact model (volume); not estimated on close-only data.
        perf["capacity_usd"] = float("nan")
        summary_rows += [(name, k, v) for k, v in perf.items()]
    summary_rows += _skill_rows(warehouse, cfg)
    summary = pd.DataFrame(summary_rows, columns=["strategy", "metric", "value"])
    summary["value"] = summary["value"].astype(float).replace([np.inf, -np.inf], np.nan)
    warehouse.replace_where("backtest_daily", daily)
    warehouse.replace_where("backtest_summary", summary)
    return dg.MaterializeResult(metadata={
        "days": int(runs["ml_barbell"].shape[0]),
        "summary": dg.MetadataValue.md(markdown_table(summary_table(summary).reset_index())),
        "equity_curve": dg.MetadataValue.md(
            "![equity](data:image/png;base64,"
            + base64.b64encode(equity_png(daily)).decode() + ")"),
    })


def _skill_rows(warehouse: Warehouse, cfg) -> list[tuple[str, str, float]]:
    rows = []
    for h in cfg.targets.horizons:
        joined = warehouse.query(
            f"SELECT f.date, f.prediction, t.{target_name(h)} AS realized FROM forecasts f "
            "JOIN targets t USING (ticker, date) WHERE f.model = 'ensemble' AND f.horizon = ? AND f.date >= ?",
            [h, cfg.backtest.start])
        skill = metrics.forecast_skill(joined.dropna()) if len(joined) else metrics.forecast_skill(
            pd.DataFrame({"date": [], "prediction": [], "realized": []}))
        rows += [("ml_barbell", f"directional_accuracy_{h}d", skill["directional_accuracy"]),
                 ("ml_barbell", f"base_rate_{h}d", skill["base_rate"]),
                 ("ml_barbell", f"ic_{h}d", skill["ic"])]
    return rows
