"""Long (ticker, date, value) frames to wide date x ticker panels and back."""

from __future__ import annotations

import numpy as np
import pandas as pd


def wide(long: pd.DataFrame, column: str) -> pd.DataFrame:
    """Dates as the sorted index, tickers as sorted columns."""
    out = long.pivot(index="date", columns="ticker", values=column).sort_index()
    out.columns.name = None
    return out.reindex(sorted(out.columns), axis=1)


def long(panels: dict[str, pd.DataFrame], dropna_all: bool = True) -> pd.DataFrame:
    """Stack same-shaped panels into one long frame with a column per panel: rows date-major, tickers in
    column order (ticker, date, *panels); dropna_all drops the rows NaN in every panel."""
    first = next(iter(panels.values()), None)
    if first is None:
        return pd.DataFrame(columns=["ticker", "date"])
    if not all(p.index.equals(first.index) and p.columns.equals(first.columns) for p in panels.values()):
        # Differently shaped panels: align them through pandas (slow at breadth).
        stacked = pd.concat({name: p.stack(future_stack=True) for name, p in panels.items()}, axis=1)
        stacked.index.names = ["date", "ticker"]
        if dropna_all:
            stacked = stacked.dropna(how="all")
        return stacked.reset_index()[["ticker", "date", *panels]]
    rows, cols = first.shape
    out = pd.DataFrame(
        {
            "ticker": np.tile(np.asarray(first.columns, dtype=object), rows),
            "date": np.repeat(first.index.to_numpy(), cols),
            **{name: p.to_numpy().ravel() for name, p in panels.items()},
        }
    )
    if dropna_all:
        out = out[out[list(panels)].notna().any(axis=1).to_numpy()].reset_index(drop=True)
    return out
