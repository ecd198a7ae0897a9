"""The operations state (e.g. the emergency switch) as a point-in-time history in the warehouse.

Each change is a new row of `operations_state_log`, in force from its `effective_from` (the session after
the evidence was realized) until the key's next row; the view `operations_state` adds `effective_to`.
Nothing is updated in place, so the history answers "what was in force on d". The decay sensor writes
it; the allocations asset reads the periods a key was active (`active_periods`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from portfolio_dagster.resources.warehouse import Warehouse

EMERGENCY = "emergency"


@dataclass(frozen=True)
class Flag:
    active: bool
    reason: str
    evidence_date: dt.date | None
    effective_from: dt.date | None = None


INACTIVE = Flag(False, "", None, None)


def history(warehouse: Warehouse, key: str = EMERGENCY) -> pd.DataFrame:
    """Every row of the key's history, oldest first, with effective_to (NULL: still in force)."""
    rows = warehouse.query(
        "SELECT * FROM operations_state WHERE key = ? ORDER BY effective_from, set_at", [key]
    )
    return (
        rows
        if len(rows)
        else pd.DataFrame(
            columns=["key", "active", "effective_from", "effective_to", "reason", "evidence_date", "set_at"]
        )
    )


def in_force(warehouse: Warehouse, day: dt.date | None = None, key: str = EMERGENCY) -> Flag:
    """The key's state in force on `day` (the newest state when None); inactive when never set."""
    rows = history(warehouse, key)
    if day is not None:
        start = pd.to_datetime(rows["effective_from"])
        end = pd.to_datetime(rows["effective_to"])
        rows = rows[(start <= pd.Timestamp(day)) & (end.isna() | (end > pd.Timestamp(day)))]
    if rows.empty:
        return INACTIVE
    row = rows.iloc[-1]
    return Flag(
        bool(row["active"]), str(row["reason"]), _date(row["evidence_date"]), _date(row["effective_from"])
    )


def emergency_flag(warehouse: Warehouse) -> Flag:
    """The emergency state as it stands now (the newest row)."""
    return in_force(warehouse, None, EMERGENCY)


def active_periods(warehouse: Warehouse, key: str = EMERGENCY) -> tuple[tuple[dt.date, dt.date | None], ...]:
    """[effective_from, effective_to) of every row where the key was active (None: open-ended)."""
    rows = history(warehouse, key)
    rows = rows[rows["active"].astype(bool)]
    return tuple((_date(r.effective_from), _date(r.effective_to)) for r in rows.itertuples())


def set_state(
    warehouse: Warehouse, key: str, active: bool, reason: str, evidence_date: dt.date, effective_from: dt.date
) -> bool:
    """Append a change in force from `effective_from`; no row when the state then in force already is
    `active`. Returns whether a row was written."""
    if in_force(warehouse, effective_from, key).active == active:
        return False
    warehouse.append(
        "operations_state_log",
        pd.DataFrame(
            [
                {
                    "key": key,
                    "active": active,
                    "effective_from": effective_from,
                    "reason": reason,
                    "evidence_date": evidence_date,
                    "set_at": pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s"),
                }
            ]
        ),
    )
    return True


def _date(value) -> dt.date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()
