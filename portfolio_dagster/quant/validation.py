"""Row-level validation of raw prices: clean rows and rejected rows with a reason, nothing dropped."""

from __future__ import annotations

import numpy as np
import pandas as pd

PRICE_COLUMNS = ("open", "high", "low", "close", "volume")


def validate(raw: pd.DataFrame, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split raw rows into (clean, rejected). Every input row lands in exactly one of them."""
    frame = raw.copy()
    for col in PRICE_COLUMNS:
        if col not in frame:
            frame[col] = np.nan
    frame["date"] = pd.to_datetime(frame["date"])
    reason = pd.Series("", index=frame.index, dtype=object)

    def flag(mask: pd.Series, why: str) -> None:
        reason[mask & (reason == "")] = why

    close = frame["close"].astype(float)
    flag(frame["ticker"].isna() | (frame["ticker"].astype(str).str.strip() == ""), "missing ticker")
    flag(close.isna(), "missing close")
    flag(~np.isfinite(close.fillna(0.0)), "non-finite close")
    flag(close <= 0, "non-positive close")
    for col in ("open", "high", "low"):
        values = frame[col].astype(float)
        flag(values.notna() & (~np.isfinite(values) | (values <= 0)), f"non-positive or non-finite {col}")
    flag(frame["volume"].astype(float) < 0, "negative volume")
    flag(frame["date"].dt.dayofweek >= 5, "weekend date")
    # A key delivered twice with different values is ambiguous: reject every copy.
    keyed = frame[reason == ""]
    dup = keyed.duplicated(["ticker", "date"], keep=False)
    conflicting = keyed[dup].groupby(["ticker", "date"])["close"].transform("nunique") > 1
    flag(frame.index.isin(conflicting[conflicting].index), "duplicate key with different values")
    # Exact duplicates are one fact delivered twice: keep the first, record the others.
    keyed = frame[reason == ""]
    flag(frame.index.isin(keyed[keyed.duplicated(["ticker", "date"], keep="first")].index), "duplicate row")

    bad = reason != ""
    rejected = frame[bad].assign(source=source, reason=reason[bad])
    clean = frame[~bad].assign(source=source)
    cols = ["ticker", "date", *PRICE_COLUMNS, "source"]
    return (clean[cols].sort_values(["ticker", "date"]).reset_index(drop=True),
            rejected[[*cols, "reason"]].reset_index(drop=True))


def consolidate(clean_by_source: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per (ticker, date): the first source in priority order that has it."""
    frames = [f for f in clean_by_source if not f.empty]
    if not frames:
        return pd.DataFrame(columns=["ticker", "date", *PRICE_COLUMNS, "source"])
    merged = pd.concat(frames, ignore_index=True)
    return (merged.drop_duplicates(["ticker", "date"], keep="first")
            .sort_values(["ticker", "date"]).reset_index(drop=True))
