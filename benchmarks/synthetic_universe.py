"""A SYNTHETIC universe for scale benchmarks and signal-recovery tests (random numbers, not market data).

N names over the last Y years of XNYS sessions to END: daily log returns
    r[t, i] = beta_i * m[t] + drift_i + sigma_i * e[t, i]
with m the market factor (also written as the benchmark ticker SP500), beta_i ~ U(0.6, 1.4), and a planted
PERSISTENT per-name drift drift_i ~ N(0, DRIFT_SD) that a trailing-return feature (ret_252d, ret_60d)
sees. CASH compounds at 2%/yr; BOND is a low-volatility walk. OHLC around the close, volume lognormal, so
the file goes through `pmx run --source csv --csv PATH` with the default config as it is.

The best a model can do on an h-day forward return is the oracle rank IC of knowing drift_i:
    IC_h = h * DRIFT_SD / sqrt(h^2 * DRIFT_SD^2 + h * SIGMA^2)   (market term is common to all names)
and knowing it only through a trailing L-day mean multiplies that by
    rho_L = L * DRIFT_SD / sqrt(L^2 * DRIFT_SD^2 + L * SIGMA^2).

Run: .venv/bin/python -m benchmarks.synthetic_universe OUT.csv [--names 500 --years 20 --seed 0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from pathlib import Path

import numpy as np
import polars as pl

from portfolio_dagster.quant.calendar import sessions

END = dt.date(2022, 12, 28)
BENCHMARK, CASH, BOND = "SP500", "CASH", "BOND"
DRIFT_SD = 0.0004  # daily: about 10% a year between names
SIGMA = 0.015  # daily idiosyncratic volatility (the mean of sigma_i)
MARKET_MEAN, MARKET_SD = 0.0003, 0.010


def oracle_ic(horizon: int, drift_sd: float = DRIFT_SD, sigma: float = SIGMA) -> float:
    """Pearson IC of knowing each name's drift on its `horizon`-day forward return."""
    return horizon * drift_sd / math.sqrt((horizon * drift_sd) ** 2 + horizon * sigma**2)


def feature_ic(horizon: int, lookback: int, drift_sd: float = DRIFT_SD, sigma: float = SIGMA) -> float:
    """Pearson IC of a trailing `lookback`-day mean return on the `horizon`-day forward return."""
    return oracle_ic(lookback, drift_sd, sigma) * oracle_ic(horizon, drift_sd, sigma)


def names(n: int) -> list[str]:
    """Ticker names SYN0000.. (sorted order = index order)."""
    return [f"SYN{i:04d}" for i in range(n)]


def universe(
    n_names: int, years: int, seed: int = 0, end: dt.date = END, drift_sd: float = DRIFT_SD
) -> tuple[pl.DataFrame, np.ndarray]:
    """(long OHLCV frame of the names, SP500, CASH and BOND; the planted daily drift per name)."""
    days = sessions(dt.date(end.year - years + 1, 1, 1), end + dt.timedelta(days=1))
    t = len(days)
    rng = np.random.default_rng(seed)
    market = rng.normal(MARKET_MEAN, MARKET_SD, t)
    beta = rng.uniform(0.6, 1.4, n_names)
    drift = rng.normal(0.0, drift_sd, n_names)
    sigma = SIGMA * rng.uniform(0.7, 1.3, n_names)
    dates = days.values.astype("datetime64[D]")
    frames = []
    # Per block of names: memory O(T x block), not O(T x N) float copies at once.
    for lo in range(0, n_names, 100):
        hi = min(lo + 100, n_names)
        r = market[:, None] * beta[lo:hi] + drift[lo:hi] + sigma[lo:hi] * rng.standard_normal((t, hi - lo))
        frames.append(_ohlcv(dates, names(n_names)[lo:hi], np.exp(np.cumsum(r, axis=0)) * 50.0, rng))
    extras = {
        BENCHMARK: 1000.0 * np.exp(np.cumsum(market)),
        CASH: 100.0 * np.exp(np.arange(1, t + 1) * math.log(1.02) / 252),
        BOND: 100.0 * np.exp(np.cumsum(rng.normal(0.0001, 0.004, t))),
    }
    for ticker, close in extras.items():
        frames.append(_ohlcv(dates, [ticker], close[:, None], rng))
    return pl.concat(frames), drift


def _ohlcv(dates: np.ndarray, tickers: list[str], close: np.ndarray, rng) -> pl.DataFrame:
    t, k = close.shape
    spread = np.abs(rng.normal(0.0, 0.006, (t, k)))
    opened = close * np.exp(rng.normal(0.0, 0.004, (t, k)))
    return pl.DataFrame(
        {
            "date": np.repeat(dates[None, :], k, axis=0).ravel(),
            "ticker": np.repeat(tickers, t),
            "open": opened.T.ravel().round(4),
            "high": (np.maximum(opened, close) * (1 + spread)).T.ravel().round(4),
            "low": (np.minimum(opened, close) * (1 - spread)).T.ravel().round(4),
            "close": close.T.ravel().round(4),
            "volume": np.round(rng.lognormal(13.5, 0.5, (t, k)).T.ravel()),
        }
    )


def write_csv(path: Path, n_names: int, years: int, seed: int = 0) -> int:
    """Write the universe as a price CSV (date,ticker,open,high,low,close,volume); returns its rows."""
    frame, _ = universe(n_names, years, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path)
    return frame.height


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--names", type=int, default=500)
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = write_csv(args.out, args.names, args.years, args.seed)
    print(f"{args.out}: SYNTHETIC {args.names} names x {args.years} years, {rows} rows")


if __name__ == "__main__":
    main()
