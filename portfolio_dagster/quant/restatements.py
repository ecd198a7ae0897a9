"""Restatements: a source's refetched rows compared with the rows stored for the same dates. A history
changed by one common factor (a back-adjustment after a split or dividend) is a restatement to re-base
the stored history by; any other change is a data error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

RESTATEMENT_TOLERANCE = 1e-4  # relative: vendors round adjusted prices to a few decimals


@dataclass(frozen=True)
class OverlapCheck:
    """restatements: ticker, date (the first date not re-based: earlier stored rows are), ratio (new/old);
    errors: one line per ticker whose overlap changed by no common factor."""

    restatements: pd.DataFrame
    errors: list[str]


def compare_overlap(
    stored: pd.DataFrame, fresh: pd.DataFrame, tolerance: float = RESTATEMENT_TOLERANCE
) -> OverlapCheck:
    """Compare `fresh` (ticker, date, close) with `stored` rows of the same tickers and dates."""
    rows, errors = [], []
    both = stored[["ticker", "date", "close"]].merge(
        fresh[["ticker", "date", "close"]], on=["ticker", "date"], suffixes=("_old", "_new")
    )
    both = both[(both["close_old"] > 0) & (both["close_new"] > 0)]
    for ticker, group in both.groupby("ticker"):
        ratio = (group["close_new"] / group["close_old"]).to_numpy()
        if np.all(np.abs(ratio - 1.0) <= tolerance):
            continue
        common = float(np.median(ratio))
        dates = pd.to_datetime(group["date"])
        if np.all(np.abs(ratio / common - 1.0) <= tolerance):
            after = pd.to_datetime(fresh.loc[fresh["ticker"] == ticker, "date"])
            later = after[after > dates.max()]
            effective = later.min() if len(later) else dates.max() + pd.offsets.BDay(1)
            rows.append({"ticker": ticker, "date": effective.date(), "ratio": common})
        else:
            changed = dates[np.abs(ratio / common - 1.0) > tolerance]
            errors.append(
                f"{ticker}: the refetched closes of {changed.min().date()}..{changed.max().date()} differ "
                f"from the stored ones by no common factor (new/old {ratio.min():.6g}..{ratio.max():.6g})"
            )
    return OverlapCheck(pd.DataFrame(rows, columns=["ticker", "date", "ratio"]), errors)
