"""Feature engine benchmark: `.venv/bin/python -m benchmarks.bench_features` (or `pmx bench features`).

1. The bundled sample (20 real tickers, 1990-2022, close only): the engine (all features, and the seed
   features alone) against the plain pandas reference of the seed features (tests/feature_reference.py).
2. A SYNTHETIC universe of 500 tickers x 20 years of OHLCV random walks (not market data): time and peak
   memory (max RSS of a fresh child process, interpreter and libraries included).
3. One new day for those 500 tickers: the features of the last date from the LOOKBACK-day window only.
Single-threaded numerics; times are the best of `--repeat` runs, wall and process CPU (on a shared
machine the CPU time is the engine's own cost; the wall time also counts waits for a core).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "POLARS_MAX_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from portfolio_dagster.quant import features  # noqa: E402
from portfolio_dagster.quant.features import seed  # noqa: E402
from portfolio_dagster.quant.features.inputs import panels  # noqa: E402

SYNTHETIC_TICKERS = 500
SYNTHETIC_DAYS = 252 * 20


class Timing:
    """Best wall and CPU seconds of `repeat` runs (CPU time is robust to other processes on the machine)."""

    def __init__(self, fn, repeat: int) -> None:
        self.wall, self.cpu = float("inf"), float("inf")
        for _ in range(repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            self.wall = min(self.wall, time.perf_counter() - w0)
            self.cpu = min(self.cpu, time.process_time() - c0)

    def __str__(self) -> str:
        return f"{self.wall:7.2f} s wall, {self.cpu:7.2f} s CPU"


def synthetic_universe(n_tickers: int = SYNTHETIC_TICKERS, n_days: int = SYNTHETIC_DAYS, seed_: int = 0):
    """SYNTHETIC OHLCV random walks (test data, not market data), long format."""
    rng = np.random.default_rng(seed_)
    dates = pd.bdate_range("2003-01-01", periods=n_days)
    close = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.018, (n_days, n_tickers)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.004, close.shape))
    high = np.maximum(close, open_) * np.exp(np.abs(rng.normal(0, 0.006, close.shape)))
    low = np.minimum(close, open_) * np.exp(-np.abs(rng.normal(0, 0.006, close.shape)))
    volume = rng.lognormal(13, 0.4, close.shape)
    tickers = np.array([f"S{i:03d}" for i in range(n_tickers)], dtype=object)
    return pd.DataFrame(
        {
            "ticker": np.tile(tickers, n_days),
            "date": np.repeat(dates.to_numpy(), n_tickers),
            "open": open_.ravel(),
            "high": high.ravel(),
            "low": low.ravel(),
            "close": close.ravel(),
            "volume": volume.ravel(),
        }
    )


def sample_part(repeat: int) -> None:
    from portfolio_dagster.resources.sources.sample import sample_prices
    from tests.feature_reference import seed_features

    px = sample_prices("SP500")
    px["date"] = pd.to_datetime(px["date"])
    market = px[px["ticker"] == "SP500"].set_index("date")["close"]
    universe = px.loc[px["ticker"] != "SP500", ["ticker", "date", "close"]]
    t_engine = Timing(lambda: features.compute(universe, market), repeat)
    t_seed = Timing(lambda: seed.compute(panels(universe, market)), repeat)
    t_ref = Timing(lambda: seed_features(universe), 1)
    rows = len(universe)
    print(f"sample: 20 tickers x {universe['date'].nunique()} days ({rows} rows), close only")
    print(f"  engine, all {len(features.FEATURE_NAMES)} features:        {t_engine}")
    print(f"  engine, the {len(features.SEED_FEATURE_NAMES)} seed features:          {t_seed}")
    print(
        f"  pandas reference, the seed features: {t_ref}  (CPU: x{t_ref.cpu / t_seed.cpu:.0f} the engine's "
        f"seed features; x{t_ref.cpu / t_engine.cpu:.0f} its full library)"
    )


def synthetic_part(repeat: int) -> None:
    """Runs in a child process so its max RSS is this workload's peak."""
    px = synthetic_universe()
    t = Timing(lambda: features.compute(px), repeat)
    dates = np.sort(px["date"].unique())
    window = px[px["date"] >= dates[-features.LOOKBACK]]
    newest = pd.Timestamp(dates[-1])

    def one_day() -> pd.DataFrame:
        return features.compute(window, since=newest)

    t_day = Timing(one_day, max(repeat, 3))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    print(
        f"SYNTHETIC: {SYNTHETIC_TICKERS} tickers x {SYNTHETIC_DAYS} days ({len(px)} rows), OHLCV random walks"
    )
    print(
        f"  engine, all {len(features.FEATURE_NAMES)} features: {t}, peak RSS {peak:.2f} GiB "
        f"(targets: < 120 s, < 4 GiB)"
    )
    print(
        f"  one new day ({features.LOOKBACK}-day window, {SYNTHETIC_TICKERS} tickers): {t_day} (target: < "
        "1 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--part", choices=("all", "sample", "synthetic"), default="all")
    args = parser.parse_args()
    if args.part in ("all", "sample"):
        sample_part(args.repeat)
    if args.part == "synthetic":
        synthetic_part(args.repeat)
    elif args.part == "all":
        sys.stdout.flush()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.bench_features",
                "--part",
                "synthetic",
                "--repeat",
                str(args.repeat),
            ],
            check=True,
        )


if __name__ == "__main__":
    main()
