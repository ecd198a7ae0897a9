"""Backtest speed: the trading-rule backtester vs the event-loop reference in the same run, on SYNTHETIC
data (500 assets x 5,000 days of random prices, rebalanced every 21 sessions, with a drift cap,
commission + spread + impact); then the three strategies' headline metrics and the criteria table from
a warehouse after `pmx run`.

Run: .venv/bin/python -m benchmarks.bench_backtest [--assets 500] [--days 5000] [--every 21]
     [--warehouse PATH]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from portfolio_dagster import paths
from portfolio_dagster.quant import backtest as bt
from portfolio_dagster.quant.costs import CostModel, ImpactInputs
from portfolio_dagster.quant.report.tables import HEADLINE  # the report's metrics, in its order
from portfolio_dagster.quant.trading import TradingRule
from tests.backtest_reference import reference_book

REPEATS = 3


def synthetic(n_assets: int, n_days: int, seed: int = 0):
    """Synthetic (labelled) market: random-walk closes, random long-only targets, sigma and ADV."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2000-01-03", periods=n_days)
    assets = [f"SYN{i:03d}" for i in range(n_assets)]
    close = pd.DataFrame(
        50 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, (n_days, n_assets)), axis=0)),
        index=days,
        columns=assets,
    )
    targets = pd.DataFrame(rng.dirichlet(np.ones(n_assets), n_days), index=days, columns=assets)
    sigma = pd.DataFrame(np.full((n_days, n_assets), 0.02), index=days, columns=assets)
    adv = pd.DataFrame(rng.uniform(1e7, 1e9, (n_days, n_assets)), index=days, columns=assets)
    return days, assets, close, targets, ImpactInputs(sigma, adv)


def nested(frame: pd.DataFrame) -> dict:
    return {
        d: dict(zip(frame.columns, row, strict=True))
        for d, row in zip(frame.index, frame.to_numpy().tolist(), strict=True)
    }


def speed(n_assets: int, n_days: int, every: int) -> None:
    days, assets, close, targets, impact = synthetic(n_assets, n_days)
    schedule = days[::every]
    rule = TradingRule(CostModel(5.0, 2.0, 1.0, 1e8), max_position=4.0 / n_assets, cap_tolerance=0.5)
    timings = []
    for _ in range(REPEATS):  # best of a few: the first call also pays page faults
        started = time.perf_counter()
        fast = bt.simulate(targets, close, schedule, rule, impact, capped=assets).daily
        timings.append(time.perf_counter() - started)
    vectorized_s = min(timings)
    trades = int((fast["turnover"] > 0).sum())
    print(
        f"synthetic {n_assets} assets x {n_days} days, rebalanced every {every} sessions "
        f"({len(schedule)} scheduled, {trades} trading days incl. cap trims), with impact"
    )
    print(
        f"  trading-rule backtest: {vectorized_s:8.3f} s (best of {REPEATS}; first call {timings[0]:.3f} s)"
    )
    # The reference loop (no impact, no cap) on the same prices and schedule, for speed and agreement.
    plain = TradingRule(CostModel(5.0, 2.0, 0.0, 1e8))
    started = time.perf_counter()
    no_impact = bt.simulate(targets, close, schedule, plain).daily
    plain_s = time.perf_counter() - started
    c, t = nested(close), nested(targets)  # not timed
    started = time.perf_counter()
    rows, _ = reference_book(list(days), assets, c, t, set(schedule), {}, 5.0, 2.0, 1e8)
    reference_s = time.perf_counter() - started
    gap = np.abs(no_impact["net_return"].to_numpy() - np.array([row[2] for row in rows])).max()
    print(
        f"  without impact/cap   : {plain_s:8.3f} s;  reference event loop {reference_s:8.3f} s "
        f"({reference_s / plain_s:.0f}x slower);  max |net return difference| {gap:.1e}"
    )


def sample_tables(warehouse: str) -> None:
    import duckdb

    try:
        con = duckdb.connect(warehouse, read_only=True)
    except duckdb.IOException as exc:
        print(f"\nno warehouse to read ({warehouse}): {str(exc).splitlines()[0]}; run `pmx run` first")
        return
    try:
        summary = con.execute("SELECT * FROM backtest_summary").df()
        criteria = con.execute(
            "SELECT criterion, target, measured, passed FROM backtest_criteria ORDER BY rowid"
        ).df()
        span = con.execute("SELECT min(date), max(date), count(DISTINCT date) FROM backtest_daily").fetchone()
    finally:
        con.close()
    table = summary.pivot(index="metric", columns="strategy", values="value")
    table = table.reindex(
        index=[m for m in HEADLINE if m in table.index],
        columns=[s for s in ("ml_barbell", "equal_weight", "benchmark") if s in table.columns],
    )
    skill = summary[summary["metric"].str.match(r"(directional_accuracy|base_rate|ic)_\d+d$|pbo$|trials$")]
    with pd.option_context("display.float_format", "{:.4f}".format, "display.width", 140):
        print(f"\nsample backtest {span[0]}..{span[1]} ({span[2]} days), from {warehouse}")
        print(table.to_string())
        print(skill.set_index("metric")["value"].to_string())
        print(criteria.to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--days", type=int, default=5000)
    parser.add_argument("--every", type=int, default=21)
    parser.add_argument("--warehouse", default=str(paths.warehouse_path()))
    args = parser.parse_args()
    speed(args.assets, args.days, args.every)
    sample_tables(args.warehouse)


if __name__ == "__main__":
    main()
