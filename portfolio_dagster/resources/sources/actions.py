"""Corporate actions a source delivers beside its prices: the optional columns split_ratio (new shares per
old on the ex-date; 1 or empty: none) and dividend (cash per share going ex that date; 0 or empty: none)
of a parsed price frame, as rows of corporate_actions."""

from __future__ import annotations

import pandas as pd

ACTION_SOURCE_COLUMNS = ("split_ratio", "dividend")
ACTION_ROW_COLUMNS = ["ticker", "date", "kind", "ratio", "amount"]


def split_actions(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the price frame without the action columns, its actions as ACTION_ROW_COLUMNS rows)."""
    present = [c for c in ACTION_SOURCE_COLUMNS if c in frame.columns]
    prices = frame.drop(columns=present)
    parts = []
    if "split_ratio" in present:
        ratio = pd.to_numeric(frame["split_ratio"], errors="coerce")
        hit = ratio.notna() & (ratio > 0) & (ratio != 1.0)
        parts.append(frame.loc[hit, ["ticker", "date"]].assign(kind="split", ratio=ratio[hit], amount=None))
    if "dividend" in present:
        amount = pd.to_numeric(frame["dividend"], errors="coerce")
        hit = amount.notna() & (amount > 0)
        parts.append(
            frame.loc[hit, ["ticker", "date"]].assign(kind="dividend", ratio=None, amount=amount[hit])
        )
    # Concatenated without their all-empty columns (ratio of dividends, amount of splits), then restored.
    parts = [p.dropna(axis=1, how="all") for p in parts if len(p)]
    actions = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return prices, actions.reindex(columns=ACTION_ROW_COLUMNS)
