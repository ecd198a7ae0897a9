"""Uninvested cash: the safe sleeve of a stock-only universe, an asset held at a constant price of 1."""

from __future__ import annotations

import pandas as pd

UNINVESTED_CASH = "CASH"


def with_uninvested_cash(close: pd.DataFrame, ticker: str = UNINVESTED_CASH) -> pd.DataFrame:
    """`close` (date x ticker) with `ticker` at a constant 1.0 on every date: cash earning 0, whatever
    prices the data had under that name."""
    return close.assign(**{ticker: 1.0})
