"""`<stage>_history`: each daily stage's own code over calendar-year partitions, for loading history.

Dagster writes one materialization event per partition of a ranged run, and the stock SQLite event log
spends 5-60 ms on each on a busy 2-core machine: the eight daily stages over 33 years are ~58,000 events,
minutes of bookkeeping before any math. A twin runs the daily asset's function on its years' window
clipped to the configured range (data.start..data.end; decision stages from backtest.start), writing
the same rows of the same tables, and records one event per year. `pmx run` loads the history through
the twins and the range's last week through the daily assets (their checks run, the UI shows those
days materialized, the daily schedule continues from there). Materialized from the UI, a twin year
covers the part of the year inside the configured range.
"""

import datetime as dt

import dagster as dg

from portfolio_dagster.assets.all import PIPELINE
from portfolio_dagster.assets.raw_prices import RAW_PRICE_ASSETS
from portfolio_dagster.partitions import HISTORY_YEARS, SINGLE_RUN, TRADING_DAYS, WAREHOUSE_POOL

HISTORY_GROUP = "history"
HISTORY_SUFFIX = "_history"
# Stages that decide (forecast, regime, signal, weights): their history starts at backtest.start.
DECISION_STAGES = ("forecasts", "regimes", "signals", "allocations")


def history_key(key: dg.AssetKey) -> dg.AssetKey:
    return dg.AssetKey(f"{key.to_user_string()}{HISTORY_SUFFIX}")


class _ClippedContext:
    """The twin's execution context with `partition_time_window` clipped to the configured range;
    everything else (log, resources, run) is the twin's own."""

    def __init__(self, context: dg.AssetExecutionContext, window: dg.TimeWindow):
        self._context = context
        self._window = window

    @property
    def partition_time_window(self) -> dg.TimeWindow:
        return self._window

    def __getattr__(self, name: str):
        return getattr(self._context, name)


def clipped_window(years: dg.TimeWindow, lower: dt.date, upper: dt.date) -> dg.TimeWindow | None:
    """years ∩ [lower, upper) as a TimeWindow in the same timezone; None when empty."""
    tz = years.start.tzinfo
    start = max(years.start, dt.datetime.combine(lower, dt.time(), tz))
    end = min(years.end, dt.datetime.combine(upper, dt.time(), tz))
    return dg.TimeWindow(start, end) if start < end else None


def _twin(daily: dg.AssetsDefinition, twins: dict[dg.AssetKey, dg.AssetKey]) -> dg.AssetsDefinition:
    spec = next(iter(daily.specs))
    name = daily.key.to_user_string()
    # The daily asset's own Python function (the twin must run exactly its code).
    compute = daily.op.compute_fn.decorated_fn
    resources = sorted(daily.required_resource_keys - {"io_manager"})

    @dg.asset(
        key=history_key(daily.key),
        partitions_def=HISTORY_YEARS,
        backfill_policy=SINGLE_RUN,
        pool=WAREHOUSE_POOL,
        group_name=HISTORY_GROUP,
        kinds=set(spec.kinds),
        deps=[twins.get(d.asset_key, d.asset_key) for d in spec.deps],
        required_resource_keys={*resources, "settings"},
        description=f"`{name}` over calendar years (history loads; same code and table as the daily "
        f"asset). {spec.description or ''}".strip(),
    )
    def _history(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        cfg = context.resources.settings.config
        lower = max(cfg.data.start, cfg.backtest.start) if name in DECISION_STAGES else cfg.data.start
        window = clipped_window(context.partition_time_window, lower, cfg.data.end + dt.timedelta(days=1))
        if window is None:
            return dg.MaterializeResult(metadata={"rows": 0, "note": "outside the configured date range"})
        result = compute(
            _ClippedContext(context, window), **{key: getattr(context.resources, key) for key in resources}
        )
        return dg.MaterializeResult(
            metadata={
                **(result.metadata or {}),
                "first_date": str(window.start.date()),
                "last_date_exclusive": str(window.end.date()),
            }
        )

    return _history


# The stages `pmx run` loads: every source's raw prices and the pipeline's daily assets.
HISTORY_OF = {
    a.key: history_key(a.key)
    for a in (*RAW_PRICE_ASSETS.values(), *PIPELINE)
    if a.partitions_def == TRADING_DAYS
}
HISTORY_ASSETS = tuple(
    _twin(a, HISTORY_OF) for a in (*RAW_PRICE_ASSETS.values(), *PIPELINE) if a.key in HISTORY_OF
)
