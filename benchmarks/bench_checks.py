"""The prices_no_missing_days check's core (`quant/validation.missing_sessions`) at breadth: SYNTHETIC
500 names x 20 years of XNYS sessions with 0.05% of the rows removed, plus a configured ticker with no
rows. At 500 names the check took 156 s of a whole `pmx run` (issue 22) when it masked the frame once
per ticker.

Run: .venv/bin/python -m benchmarks.bench_checks [--names 500]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd

from portfolio_dagster.quant.calendar import sessions
from portfolio_dagster.quant.validation import missing_sessions


def synthetic_keys(names: int, days: pd.DatetimeIndex, seed: int = 0) -> pd.DataFrame:
    """SYNTHETIC (ticker, date) rows: every session of every name but a random 0.05%."""
    keys = pd.MultiIndex.from_product([[f"T{i:03d}" for i in range(names)], days], names=["ticker", "date"])
    frame = keys.to_frame(index=False)
    frame = frame[np.random.default_rng(seed).random(len(frame)) > 0.0005]
    return frame.assign(date=frame["date"].dt.date)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, default=500)
    args = parser.parse_args()
    days = sessions(dt.date(2003, 1, 2), dt.date(2023, 1, 1))
    frame = synthetic_keys(args.names, days)
    started = time.perf_counter()
    missing = missing_sessions(frame, days, ["NO_ROWS"])
    print(
        f"missing_sessions: {args.names} SYNTHETIC names x {len(days)} sessions ({len(frame):,} rows): "
        f"{time.perf_counter() - started:.2f} s, {len(missing):,} missing (ticker, date)"
    )


if __name__ == "__main__":
    main()
