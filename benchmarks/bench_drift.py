"""Feature-drift cost: the feature_drift check's computation (drift_report: read the training window and the
newest window of the model set's inputs, PSI and the training-window baseline per input) on a warehouse the
size of the full sample: 20 tickers x 1990-01-02..2022-12-28 x the 30 default model inputs (random walks:
persistent, like the slow features).

Run: .venv/bin/python -m benchmarks.bench_drift
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from portfolio_dagster.config import load_config
from portfolio_dagster.quant.features import DEFAULT_MODEL_FEATURES
from portfolio_dagster.resources.feature_drift import drift_report
from portfolio_dagster.resources.warehouse import Warehouse

TICKERS = 20
SPAN = ("1990-01-02", "2022-12-28")
TRAIN_END = "2021-11-30"
REPEATS = 3


def warehouse(root: Path) -> tuple[Warehouse, int]:
    rng = np.random.default_rng(0)
    dates = pd.bdate_range(*SPAN)
    names = list(DEFAULT_MODEL_FEATURES)
    frame = pd.DataFrame(
        {
            "ticker": np.tile([f"T{i:02d}" for i in range(TICKERS)], len(dates)),
            "date": np.repeat(dates.date, TICKERS),
        }
    )
    for name in names:
        frame[name] = np.cumsum(rng.normal(size=len(frame))).astype("float32")
    wh = Warehouse(path=str(root / "warehouse.duckdb"))
    wh.replace_where("features", frame)
    wh.replace_where(
        "model_registry",
        pd.DataFrame(
            [
                {
                    "model_id": "ensemble-bench",
                    "model_type": "ensemble",
                    "horizon": 21,
                    "train_start": SPAN[0],
                    "train_end": TRAIN_END,
                    "valid_from": "2022-01-03",
                    "trained_at": pd.Timestamp("2022-01-01"),
                    "config_hash": "bench",
                    "features": json.dumps(names),
                    "metrics": "{}",
                    "artifact": "-",
                    "artifact_sha256": "-",
                    "model_set_id": "set-bench",
                }
            ]
        ),
    )
    wh.replace_where(
        "forecasts",
        pd.DataFrame(
            {
                "ticker": ["T00"],
                "date": [dates[-1].date()],
                "horizon": [21],
                "model": ["ensemble"],
                "prediction": [0.0],
                "model_id": ["ensemble-bench"],
            }
        ),
    )
    return wh, len(frame)


def main() -> None:
    ops = load_config().operations
    with tempfile.TemporaryDirectory() as tmp:
        wh, rows = warehouse(Path(tmp))
        for _ in range(REPEATS):
            wall, cpu = time.monotonic(), time.process_time()
            report = drift_report(wh, ops, 21)
            print(
                f"drift_report over {rows} feature rows, {len(report.table)} inputs, window "
                f"{ops.drift_window_days} days: wall {time.monotonic() - wall:.2f} s, "
                f"cpu {time.process_time() - cpu:.2f} s; {len(report.drifting)} drifting ({ops.drift_rule})"
            )


if __name__ == "__main__":
    main()
