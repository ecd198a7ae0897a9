"""The strategy's core at breadth without a warehouse: rule-based signals with fractional Kelly sizes
(quant/signals.build_signals, with and without a risk forecast on the Kelly diagonal) and the barbell's
allocations (quant/allocation.allocate) on a SYNTHETIC universe (benchmarks/synthetic_universe.py: random
numbers, not market data). The backtest recomputes three such barbells beside the stored one, so their
cost counts four times in a `pmx run`.

Run: .venv/bin/python -m benchmarks.bench_signals [--names 500 --years 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from benchmarks.synthetic_universe import BENCHMARK, BOND, CASH, universe
from portfolio_dagster.config import load_config
from portfolio_dagster.quant.allocation import MarketInputs, allocate
from portfolio_dagster.quant.panel import wide
from portfolio_dagster.quant.signals import RULE_BASED, VOLATILITY_DAYS, build_signals


def _timed(f):
    t0, c0 = time.perf_counter(), time.process_time()
    out = f()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--names", type=int, default=500)
    ap.add_argument("--years", type=int, default=20)
    a = ap.parse_args()
    cfg = load_config()
    s = cfg.strategy
    px = universe(a.names, a.years)[0].to_pandas()
    px["date"] = pd.to_datetime(px["date"])
    closes = wide(px, "close")
    close = closes.drop(columns=[CASH, BOND, BENCHMARK])
    dates = close.index[300:]
    trailing = np.log(close).diff().rolling(VOLATILITY_DAYS).std() * np.sqrt(s.signal_horizon)
    forecast = trailing.stack().rename("volatility").rename_axis(["date", "ticker"]).reset_index()
    print(f"SYNTHETIC {a.names} names x {a.years} years, {len(dates)} decision dates")
    for label, volatility in (("trailing covariance", None), ("risk forecast diagonal", forecast)):
        signals, wall, cpu = _timed(
            lambda v=volatility: build_signals(
                pd.DataFrame(),
                close,
                dates,
                mode=RULE_BASED,
                horizon=s.signal_horizon,
                kelly_fraction=s.kelly_fraction,
                covariance_days=s.covariance_days,
                volatility=v,
            )
        )
        print(f"build_signals ({label}): {wall:.1f} s wall, {cpu:.1f} s CPU, {len(signals):,} rows")
    market = MarketInputs(
        close=close,
        safe_close=closes[[CASH, BOND]],
        regimes=pd.DataFrame(columns=["date", "state", "probabilities"]),
        signals=signals,
        horizon=s.signal_horizon,
        accuracy_window=cfg.operations.skill_window_days,
        emergency_below=cfg.operations.emergency_below,
        rebalance=cfg.backtest.rebalance,
        risk=forecast,
    )
    table, wall, cpu = _timed(lambda: allocate(dates, market, s))
    print(f"allocate (ML risk): {wall:.1f} s wall, {cpu:.1f} s CPU, {len(table):,} rows")


if __name__ == "__main__":
    main()
