"""Strategy stage speed and behaviour: the real `signals` and `allocations` assets materialized over
one partition range (the full sample by default) on a COPY of a warehouse that already holds prices,
forecasts and regimes (after `pmx run`); then turnover per year, rebalances and the share of decision
days under each control.

Run: .venv/bin/python -m benchmarks.bench_strategy --warehouse PATH [--config FILE] [--start D] [--end D]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from portfolio_dagster import paths
from portfolio_dagster.assets.allocations import allocations
from portfolio_dagster.assets.signals import signals
from portfolio_dagster.config import DEFAULT_CONFIG_PATH, load_config
from portfolio_dagster.quant.allocation_reasons import control_shares
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def materialize(asset, warehouse: Path, config: Path, start: str, end: str) -> tuple[float, float]:
    """(wall, CPU of this process) seconds; both include Dagster's per-partition events."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = dg.materialize(
        [asset],
        resources={
            "warehouse": Warehouse(path=str(warehouse)),
            "settings": PipelineSettings(config_path=str(config)),
        },
        tags={RANGE_START: start, RANGE_END: end},
        selection=[asset],
    )
    assert result.success
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", default=str(paths.warehouse_path()))
    ap.add_argument("--config", default=str(DEFAULT_CONFIG_PATH))
    ap.add_argument("--start", default=None)
    ap.add_argument("--end", default=None)
    a = ap.parse_args()
    cfg = load_config(a.config)
    start = a.start or cfg.backtest.start.isoformat()
    end = a.end or cfg.data.end.isoformat()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "warehouse.duckdb"
        shutil.copy(a.warehouse, copy)
        t_sig = materialize(signals, copy, Path(a.config), start, end)
        t_alloc = materialize(allocations, copy, Path(a.config), start, end)
        wh = Warehouse(path=str(copy))
        alloc = wh.query("SELECT * FROM allocations ORDER BY date, ticker")
        sig = wh.query("SELECT source, count(*) AS n FROM signals GROUP BY source")
    w = alloc.pivot(index="date", columns="ticker", values="weight").fillna(0.0)
    w.index = pd.to_datetime(w.index)
    turnover = 0.5 * np.abs(w.diff().fillna(0.0)).sum(axis=1)
    years = len(w) / 252
    print(
        f"range {start}..{end}: {len(w)} decision dates, signals rows by source "
        f"{dict(zip(sig.source, sig.n, strict=True))}"
    )
    print(f"signals asset (materialize incl. Dagster events): wall {t_sig[0]:6.1f} s, CPU {t_sig[1]:6.1f} s")
    print(
        f"allocations asset (materialize incl. Dagster events): wall {t_alloc[0]:6.1f} s, CPU "
        f"{t_alloc[1]:6.1f} s"
    )
    print(
        f"target turnover (one-way, sum over every daily target change): {turnover.sum() / years:.2f} per "
        "year"
    )
    months = w.index.to_series().map(lambda d: (d.year, d.month))
    month_end = w[months.ne(months.shift(-1)).to_numpy()]
    monthly = 0.5 * np.abs(month_end.diff().fillna(0.0)).sum(axis=1)
    print(
        f"target turnover between month-end targets (what a monthly rebalance trades, before drift): "
        f"{monthly.sum() / years:.2f} per year"
    )
    risky = alloc[alloc.sleeve == "risky"].groupby("date")["weight"].sum().reindex(w.index, fill_value=0.0)
    print(
        f"risky sleeve: mean {risky.mean():.3f}, min {risky.min():.3f}, max {risky.max():.3f}; "
        f"max single weight {alloc[alloc.sleeve == 'risky'].weight.max():.4f}"
    )
    print("share of decision days under each control:")
    for code, share in control_shares(alloc, cfg.strategy.safe_assets[0]).items():
        print(f"  {code:18s} {share:6.1%}")


if __name__ == "__main__":
    main()
