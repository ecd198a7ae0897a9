"""Long (ticker, date, value) frames to wide date x ticker panels and back."""

from __future__ import annotations

import pandas as pd


def wide(long: pd.DataFrame, column: str) -> pd.DataFrame:
    """Dates as the sorted index, tickers as sorted columns."""
    out = long.pivot(index="date", columns="ticker", values=column).sort_index()
    out.columns.name = None
    return out.reindex(sorted(out.columns), axis=1)


def long(panels: dict[str, pd.DataFrame], dropna_all: bool = True) -> pd.DataFrame:
    """Stack same-shaped panels into one long frame with a column per panel."""
    stacked = pd.concat({name: p.stack(future_stack=True) for name, p in panels.items()}, axis=1)
    stacked.index.names = ["date", "ticker"]
    if dropna_all:
        stacked = stacked.dropna(how="all")
    return stacked.reset_index()[["ticker", "date", *panels]]
