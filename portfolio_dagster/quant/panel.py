"""Long (ticker, date, value) frames to wide date x ticker panels and back."""

from __future__ import annotations

import numpy as np
import pandas as pd


def wide(long: pd.DataFrame, column: str) -> pd.DataFrame:
    """Dates as the sorted index, tickers as sorted columns."""
    return wide_many(long, [column])[column]


def wide_many(long: pd.DataFrame, columns: list[str]) -> dict[str, pd.DataFrame]:
    """`wide` of each of `columns`, from one pivot (a pivot per column repeats the reshaping: 1.7 s vs
    0.5 s for open/high/low/close of 500 names x 20 years)."""
    if long.empty:  # a pivot of several columns over no rows has no column level to select from
        return {c: _sorted(long.pivot(index="date", columns="ticker", values=c)) for c in columns}
    pivoted = long.pivot(index="date", columns="ticker", values=list(columns))
    return {c: _sorted(pivoted[c]) for c in columns}


def wide_coded(long: pd.DataFrame, columns: list[str]) -> dict[str, pd.DataFrame]:
    """`wide_many` of a frame whose `ticker` is categorical with sorted categories (Warehouse.frame),
    in any row order, by numpy indexing: 0.1 s where the pivot took 1.4 s (500 names x 20 years of
    OHLC). Each (ticker, date) at most once; the categories with no rows are dropped."""
    codes = long["ticker"].cat.codes.to_numpy()
    date_codes, dates = pd.factorize(long["date"].to_numpy(), sort=True)
    used = np.unique(codes)
    column_of = np.full(len(long["ticker"].cat.categories), -1)
    column_of[used] = np.arange(len(used))
    index = pd.DatetimeIndex(dates, name="date")
    names = pd.Index(np.asarray(long["ticker"].cat.categories[used], dtype=object))
    out = {}
    for c in columns:
        values = np.full((len(dates), len(used)), np.nan)
        values[date_codes, column_of[codes]] = long[c].to_numpy(dtype=float, na_value=np.nan)
        out[c] = pd.DataFrame(values, index=index, columns=names)
    return out


def _sorted(panel: pd.DataFrame) -> pd.DataFrame:
    panel = panel.sort_index()
    panel.columns.name = None
    return panel.reindex(sorted(panel.columns), axis=1)


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
