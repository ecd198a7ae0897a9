"""Synthetic panels for the model tests (labelled synthetic: not market data)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from portfolio_dagster.quant.regimes import REGIME_COLUMNS

TICKERS = tuple(f"SYN{i}" for i in range(8))


def panel(days: int = 1200, signal: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """ticker, date, f_signal, f_noise, regime columns, y: y = signal * 0.01 * f_signal + 0.01 * noise.
    With signal=1 the best forecast's correlation with y is 1/sqrt(2): directional accuracy
    0.5 + arcsin(1/sqrt 2)/pi = 0.75 at most. signal=0: y is unpredictable (a random walk's steps)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2001-01-01", periods=days)
    rows = pd.DataFrame([(t, d) for d in dates for t in TICKERS], columns=["ticker", "date"])
    n = len(rows)
    rows["f_signal"] = rng.normal(size=n)
    rows["f_noise"] = rng.normal(size=n)
    rows["y"] = signal * 0.01 * rows["f_signal"] + 0.01 * rng.normal(size=n)
    probs = rng.dirichlet(np.ones(len(REGIME_COLUMNS)), size=days)
    for j, c in enumerate(REGIME_COLUMNS):
        rows[c] = np.repeat(probs[:, j], len(TICKERS))
    return rows


FEATURES = ["f_signal", "f_noise"]
SMALL_PARAMS = {
    "lightgbm": {"n_estimators": 40, "early_stopping_rounds": 10, "min_child_samples": 50},
    "xgboost": {"n_estimators": 40, "early_stopping_rounds": 10},
    "tcn": {
        "lookback": 10,
        "channels": 4,
        "levels": 2,
        "epochs": 3,
        "learning_rate": 0.01,
        "max_train_rows": 4000,
    },
    "lstm": {"lookback": 10, "hidden": 8, "epochs": 3, "learning_rate": 0.01, "max_train_rows": 4000},
    "bayesian_ridge": {},
    "regime_adaptive": {},
}
