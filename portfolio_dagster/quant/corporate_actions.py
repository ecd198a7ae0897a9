"""Corporate actions applied to a book of shares and cash: a split multiplies the shares held (and the
shares of orders still to fill), a cash dividend credits cash per share held, a restatement of a
source's price history by a common factor re-bases the shares so the book's value is unchanged."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

SPLIT, DIVIDEND, RESTATEMENT = "split", "dividend", "restatement"
ACTION_COLUMNS = ["ticker", "date", "kind", "ratio", "amount", "source"]
ADJUSTMENT_COLUMNS = [
    "date",
    "ticker",
    "kind",
    "ratio",
    "amount",
    "quantity_before",
    "quantity_after",
    "cash_usd",
]
# Dividends are paid on the shares held before a same-day split; then splits; then re-basings.
_ORDER = {DIVIDEND: 0, SPLIT: 1, RESTATEMENT: 2}


def by_priority(actions: pd.DataFrame, sources: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """One row per (ticker, date, kind): where several sources report the same action, the one of the
    source first in `sources` (data.sources, priority order; a source not named there after those, by
    name). Rows keep their order otherwise."""
    if actions.empty:
        return actions
    rank = {name: i for i, name in enumerate(sources)}
    order = actions.assign(
        _rank=actions["source"].map(rank).fillna(len(rank)), _pos=range(len(actions))
    ).sort_values(["_rank", "source", "_pos"], kind="stable")
    kept = order.drop_duplicates(["ticker", "date", "kind"]).sort_values("_pos")
    return kept.drop(columns=["_rank", "_pos"])


@dataclass(frozen=True)
class AdjustedBook:
    """The holdings carried into a session after its actions, and one adjusting row per action applied."""

    quantity: pd.Series
    cash: float
    orders: pd.DataFrame
    adjustments: pd.DataFrame


def apply_actions(
    quantity: pd.Series, cash: float, orders: pd.DataFrame, actions: pd.DataFrame, session
) -> AdjustedBook:
    """Apply `actions` (ACTION_COLUMNS, those effective at the open of `session`) to the shares, cash and
    pending orders (ticker, quantity, reference_price) carried from the previous close."""
    quantity = quantity.astype(float).copy()
    orders = orders.copy()
    rows = []
    ordered = actions.assign(_o=actions["kind"].map(_ORDER)).sort_values(["_o", "ticker"], kind="stable")
    for action in ordered.itertuples(index=False):
        held = float(quantity.get(action.ticker, 0.0))
        credit, after, factor = 0.0, held, None
        if action.kind == DIVIDEND:
            credit = held * float(action.amount)
        elif action.kind in (SPLIT, RESTATEMENT):
            # A split: ratio new shares per old. A restatement: prices x ratio, so shares / ratio.
            factor = float(action.ratio) if action.kind == SPLIT else 1.0 / float(action.ratio)
            after = held * factor
        else:
            raise ValueError(f"unknown corporate action kind {action.kind!r} for {action.ticker}")
        if factor is not None:
            if action.ticker in quantity.index:
                quantity[action.ticker] = after
            pending = orders["ticker"] == action.ticker if len(orders) else pd.Series(dtype=bool)
            if pending.any():
                orders.loc[pending, "quantity"] = orders.loc[pending, "quantity"] * factor
                orders.loc[pending, "reference_price"] = orders.loc[pending, "reference_price"] / factor
        cash += credit
        if held or credit:
            rows.append(
                {
                    "date": session,
                    "ticker": action.ticker,
                    "kind": action.kind,
                    "ratio": None if pd.isna(action.ratio) else float(action.ratio),
                    "amount": None if pd.isna(action.amount) else float(action.amount),
                    "quantity_before": held,
                    "quantity_after": after,
                    "cash_usd": credit,
                }
            )
    return AdjustedBook(quantity, cash, orders, pd.DataFrame(rows, columns=ADJUSTMENT_COLUMNS))


def as_traded_multipliers(
    dates: pd.DatetimeIndex, actions: pd.DataFrame, close_before: pd.Series
) -> pd.DataFrame:
    """Date x ticker factors that turn adjusted prices into the prices that traded on each date: the
    adjusted history divides an earlier price by each later split's ratio and multiplies it by
    (1 - dividend / the close before the ex-date), so the price that traded is the adjusted one times the
    product of the inverse factors of the splits and dividends after it. `close_before`: the adjusted
    close before each action's ex-date, indexed like `actions`."""
    out = pd.DataFrame(1.0, index=dates, columns=sorted(set(actions["ticker"])))
    events = actions[actions["kind"].isin([SPLIT, DIVIDEND])]
    for ticker, rows in events.groupby("ticker"):
        multiplier = 1.0  # for dates on or after the latest ex-date seen so far
        for i, action in rows.sort_values("date", ascending=False).iterrows():
            if action["kind"] == SPLIT:
                factor = float(action["ratio"])
            else:
                traded_before = float(close_before[i]) * multiplier
                factor = 1.0 / (1.0 - float(action["amount"]) / traded_before)
            multiplier *= factor
            out.loc[out.index < pd.Timestamp(action["date"]), ticker] *= factor
    return out
