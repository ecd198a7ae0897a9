"""Reading and validating a user's CSV: 500 tickers x 20 years of SYNTHETIC daily OHLCV (random walks written
here, not market data; about 2.5 million rows, 190 MB), with a few bad rows so validation has work to do.

Compares today's path with the polars one:
- read: the row-by-row csv-module reader (the fallback that names a broken file's row and column) against
  read_price_csv's polars path; both must give the same frame;
- validate: quant.validation.validate as of BASELINE_REF (pandera's pandas backend, string checks on every
  numeric column) against the current one (pandera's polars backend, typed columns taken as they are);
  both must give the same clean and rejected rows.
Wall and CPU seconds, best of REPEATS (CPU time is this process's alone: the steadier figure on a shared
machine). Single-threaded numerics; polars uses its own pool (POLARS_MAX_THREADS to pin it).

Run: .venv/bin/python -m benchmarks.bench_csv [--tickers 500 --years 20 --repeats 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from portfolio_dagster.quant import validation
from portfolio_dagster.quant.calendar import sessions
from portfolio_dagster.resources.sources.csv_file import _read_row_by_row, read_price_csv

# validation.py before the polars change: today's path on main.
BASELINE_REF = "c8f71f2"
TODAY = dt.date(2026, 1, 1)
SEED = 0


def write_synthetic_csv(path: Path, tickers: int, years: int) -> int:
    """SYNTHETIC prices: geometric random walks per ticker over the last `years` of XNYS sessions to 2022,
    OHLC around the close, constant volume; 0.01% of closes NaN, a few negative, a few duplicated keys."""
    days = sessions(dt.date(2022 - years + 1, 1, 1), dt.date(2023, 1, 1))
    rng = np.random.default_rng(SEED)
    close = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, (len(days), tickers)), axis=0)).T.ravel()
    bad = rng.choice(close.size, max(close.size // 10_000, 1), replace=False)
    close[bad[: len(bad) // 2]] = np.nan
    close[bad[len(bad) // 2 :]] *= -1
    frame = pl.DataFrame(
        {
            "date": np.tile(days.values.astype("datetime64[D]"), tickers),
            "ticker": np.repeat([f"SYN{i:03d}" for i in range(tickers)], len(days)),
            "close": close.round(4),
        }
    )
    frame = frame.with_columns(
        open=(pl.col("close") * 0.999).round(4),
        high=(pl.col("close") * 1.01).round(4),
        low=(pl.col("close") * 0.99).round(4),
        volume=pl.lit(1_000_000.0),
    )
    frame = pl.concat([frame, frame.head(25).with_columns(volume=pl.col("volume") + 1.0)])  # conflicting keys
    frame.write_csv(path)
    return frame.height


def timed(fn, repeats: int):
    """(result of the last call, best wall seconds, best CPU seconds)."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return out, min(walls), min(cpus)


def baseline_validation():
    """quant/validation.py as of BASELINE_REF, loaded as its own module; None without git."""
    root = Path(__file__).resolve().parents[1]
    try:
        source = subprocess.run(
            ["git", "show", f"{BASELINE_REF}:portfolio_dagster/quant/validation.py"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "validation_baseline.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("validation_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic_prices.csv"
        rows = write_synthetic_csv(path, args.tickers, args.years)
        size = path.stat().st_size / 1e6
        print(f"SYNTHETIC CSV: {args.tickers} tickers x {args.years} years, {rows} rows, {size:.0f} MB")
        slow, slow_wall, slow_cpu = timed(lambda: _read_row_by_row(path), 1)
        fast, fast_wall, fast_cpu = timed(lambda: read_price_csv(path), args.repeats)
        pd.testing.assert_frame_equal(fast, slow)
        print(
            f"read  row by row (today): {slow_wall:6.2f} s wall {slow_cpu:6.2f} s CPU | polars: "
            f"{fast_wall:6.2f} s "
            f"wall {fast_cpu:6.2f} s CPU | x{slow_cpu / fast_cpu:.1f} CPU, same frame"
        )
        # prices validates what raw_prices_csv stored: typed columns, as a warehouse query returns them.
        raw = fast.assign(date=pd.to_datetime(fast["date"]))
        old = baseline_validation()
        (clean, rejected), new_wall, new_cpu = timed(
            lambda: validation.validate(raw, "csv", today=TODAY), args.repeats
        )
        line = f"validate current (pandera polars): {new_wall:6.2f} s wall {new_cpu:6.2f} s CPU"
        if old is not None:
            (old_clean, old_rejected), old_wall, old_cpu = timed(
                lambda: old.validate(raw, "csv", today=TODAY), 1
            )
            pd.testing.assert_frame_equal(clean, old_clean)
            pd.testing.assert_frame_equal(rejected, old_rejected)
            line = (
                f"validate {BASELINE_REF} (today, pandera pandas): {old_wall:6.2f} s wall {old_cpu:6.2f} s "
                "CPU | " + line + f" | x{old_cpu / new_cpu:.1f} CPU, same clean and rejected rows"
            )
        print(line)
        if old is not None:
            # The pandera step alone (the schema's rules on typed columns): pandas against polars backend.
            typed = raw.assign(ticker=raw["ticker"].astype(object))
            _, old_s_wall, old_s_cpu = timed(lambda: old._schema_reasons(typed), 1)
            _, new_s_wall, new_s_cpu = timed(lambda: validation._schema_reasons(typed), args.repeats)
            print(
                f"pandera rules alone: pandas backend {old_s_wall:6.2f} s wall {old_s_cpu:6.2f} s CPU | "
                "polars "
                f"backend {new_s_wall:6.2f} s wall {new_s_cpu:6.2f} s CPU | x{old_s_cpu / new_s_cpu:.1f} CPU"
            )
        print(
            f"rows: {len(clean)} clean, {len(rejected)} rejected "
            f"({rejected['reason'].value_counts().to_dict()})"
        )


if __name__ == "__main__":
    main()
