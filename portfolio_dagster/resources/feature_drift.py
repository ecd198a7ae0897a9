"""Feature drift of the model set in use, read from the warehouse: the PSI of each of its inputs over the
newest `drift_window_days` sessions of `features` against its training window (quant/drift.py). The
feature_drift check, the report and the drift sensor share it.

The model set in use is the one behind the newest ensemble forecast at the signal horizon (its
`model_id`), so the comparison is always against what the product is trading on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd

from portfolio_dagster.config import OperationsConfig
from portfolio_dagster.quant.drift import ABSOLUTE, DRIFT_COLUMNS, drifted, feature_drift
from portfolio_dagster.quant.features import FEATURE_NAMES
from portfolio_dagster.resources.warehouse import Warehouse

SHOWN = 10  # the worst features listed in metadata, the report and the reason


@dataclass(frozen=True)
class DriftReport:
    threshold: float
    table: pd.DataFrame  # quant.drift.DRIFT_COLUMNS, the most drifted first
    model_id: str | None = None
    model_set_id: str | None = None
    train_window: str = ""  # 'first..last' training dates of the model set
    recent_window: str = ""  # 'first..last' of the newest sessions compared
    note: str = ""  # why there is nothing to compare, when so
    rule: str = ABSOLUTE  # operations.drift_rule

    @property
    def drifting(self) -> pd.DataFrame:
        return self.table[drifted(self.table, self.threshold, self.rule)]

    @property
    def max_psi(self) -> float:
        return float(self.table["psi"].max()) if self.table["psi"].notna().any() else math.nan

    def worst(self, n: int = SHOWN) -> pd.DataFrame:
        return self.table.head(n)

    def reason(self) -> str:
        """One line: how much, which inputs, against which windows."""
        top = ", ".join(f"{r.feature} {r.psi:.2f}" for r in self.drifting.head(3).itertuples())
        beyond = " and beyond every training window's" if self.rule != ABSOLUTE else ""
        return (
            f"feature drift: PSI above {self.threshold}{beyond} on {len(self.drifting)} of {len(self.table)} "
            f"model inputs ({top}): newest sessions {self.recent_window} vs the training window "
            f"{self.train_window} of {self.model_set_id}"
        )


def _span(dates: pd.Series) -> str:
    return f"{pd.Timestamp(dates.min()):%Y-%m-%d}..{pd.Timestamp(dates.max()):%Y-%m-%d}"


def drift_report(warehouse: Warehouse, ops: OperationsConfig, horizon: int) -> DriftReport:
    empty = pd.DataFrame(columns=DRIFT_COLUMNS)
    in_use = warehouse.query(
        "SELECT f.date, r.model_id, r.model_set_id, r.train_start, r.train_end, r.features FROM forecasts f "
        "JOIN model_registry r USING (model_id) WHERE f.model = 'ensemble' AND f.horizon = ? "
        "ORDER BY f.date DESC LIMIT 1",
        [horizon],
    )
    if in_use.empty:
        return DriftReport(ops.drift_threshold, empty, note="no ensemble forecast yet: no model set in use")
    row = in_use.iloc[0]
    # Names from the registry become SQL identifiers: only the known feature columns pass.
    names = [n for n in json.loads(row["features"]) if n in FEATURE_NAMES]
    model = {"model_id": str(row["model_id"]), "model_set_id": str(row["model_set_id"])}
    if not names:
        return DriftReport(
            ops.drift_threshold, empty, note="the model set has no stored feature inputs", **model
        )
    as_of = pd.Timestamp(row["date"]).date()
    dates = warehouse.query(
        "SELECT DISTINCT date FROM features WHERE date <= ? ORDER BY date DESC LIMIT ?",
        [as_of, ops.drift_window_days],
    )["date"]
    columns = ", ".join(names)
    train = warehouse.query(
        f"SELECT date, {columns} FROM features WHERE date >= ? AND date <= ?",
        [row["train_start"], row["train_end"]],
    )
    recent = warehouse.query(
        f"SELECT date, {columns} FROM features WHERE date >= ? AND date <= ?", [dates.min(), as_of]
    )
    if train.empty or recent.empty:
        return DriftReport(
            ops.drift_threshold, empty, note="no feature rows in the training or the newest window", **model
        )
    table = feature_drift(train, recent, names, bins=ops.drift_bins, window_days=ops.drift_window_days)
    return DriftReport(
        ops.drift_threshold,
        table,
        train_window=_span(train["date"]),
        recent_window=_span(recent["date"]),
        rule=ops.drift_rule,
        **model,
    )
