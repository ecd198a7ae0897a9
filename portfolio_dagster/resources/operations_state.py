"""The operations_state flags in the warehouse: written by the decay sensor, read by the strategy.

The allocations asset reads `emergency_flag(warehouse)`; when it is active every weight goes to the
safe sleeve (the same behaviour as `strategy.emergency_stop` in the config).
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


INACTIVE = Flag(False, "", None)


def read_flag(warehouse: Warehouse, flag: str = EMERGENCY) -> Flag:
    """The flag's state; inactive when never set (or the warehouse is empty)."""
    rows = warehouse.query("SELECT active, reason, evidence_date FROM operations_state WHERE flag = ?", [flag])
    if rows.empty:
        return INACTIVE
    evidence = rows["evidence_date"].iat[0]
    return Flag(bool(rows["active"].iat[0]), str(rows["reason"].iat[0]),
                None if pd.isna(evidence) else pd.Timestamp(evidence).date())


def emergency_flag(warehouse: Warehouse) -> Flag:
    return read_flag(warehouse, EMERGENCY)


def write_flag(warehouse: Warehouse, flag: str, active: bool, reason: str,
               evidence_date: dt.date | None) -> None:
    row = pd.DataFrame([{"flag": flag, "active": active, "reason": reason,
                         "evidence_date": evidence_date,
                         "updated_at": pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")}])
    warehouse.replace_where("operations_state", row, "flag", [flag])
