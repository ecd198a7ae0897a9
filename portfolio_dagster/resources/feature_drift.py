"""Feature drift of the model set in use, read from the warehouse: the PSI of each of its inputs over the
newest `drift_window_days` sessions of `features` against its training window (quant/drift.py). The
feature_drift check, the report and the drift sensor share it.

The model set in use is the one behind the newest ensemble forecast at the signal horizon (its
`model_id`), so the comparison is always against what the product is trading on.

The training side (each input's bins, median and training-window PSIs: quant/drift.training_profile) is
the model set's, not the day's: with a cache folder it is computed once and kept as JSON, keyed by the
model set, the drift settings and each input's count and sum over the training window (a feature
history recomputed since is a new key). At 500 names a session otherwise re-read and re-binned 2.4 M
training rows (~8 s of a daily session's ~30).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from portfolio_dagster.config import OperationsConfig
from portfolio_dagster.quant.drift import (
    ABSOLUTE,
    DRIFT_COLUMNS,
    PROFILE_COLUMNS,
    SHARE_FLOOR,
    drift_from_profile,
    drifted,
    training_profile,
)
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


def drift_report(
    warehouse: Warehouse, ops: OperationsConfig, horizon: int, cache: Path | None = None
) -> DriftReport:
    """The drift of the model set in use; `cache`: the folder of training profiles (None: computed)."""
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
    recent = warehouse.query(
        f"SELECT date, {columns} FROM features WHERE date >= ? AND date <= ?", [dates.min(), as_of]
    )
    profile, train_window = _training_side(warehouse, ops, row, names, cache)
    if profile is None or recent.empty:
        return DriftReport(
            ops.drift_threshold, empty, note="no feature rows in the training or the newest window", **model
        )
    return DriftReport(
        ops.drift_threshold,
        drift_from_profile(profile, recent),
        train_window=train_window,
        recent_window=_span(recent["date"]),
        rule=ops.drift_rule,
        **model,
    )


def _training_side(
    warehouse: Warehouse, ops: OperationsConfig, row: pd.Series, names: list[str], cache: Path | None
) -> tuple[pd.DataFrame | None, str]:
    """(the training profile, 'first..last' of the training rows), from the cache when it has this key."""
    window = [row["train_start"], row["train_end"]]
    # Each input's finite count and sum: a recomputed feature history is a new key.
    sums = ", ".join(f"count({n}), sum(CASE WHEN isfinite({n}) THEN {n} END)" for n in names)
    stats = warehouse.query(
        f"SELECT min(date) AS first, max(date) AS last, count(*) AS n, {sums} FROM features "
        "WHERE date >= ? AND date <= ?",
        window,
    )
    if stats.empty or not int(stats["n"].iat[0]):
        return None, ""
    span = f"{pd.Timestamp(stats['first'].iat[0]):%Y-%m-%d}..{pd.Timestamp(stats['last'].iat[0]):%Y-%m-%d}"
    key = hashlib.sha256(
        json.dumps(
            {
                "model_set_id": str(row["model_set_id"]),
                "features": names,
                "bins": ops.drift_bins,
                "window_days": ops.drift_window_days,
                "floor": SHARE_FLOOR,
                # 10 significant digits: DuckDB's parallel sums may differ in the last bits run to run.
                "stats": [None if pd.isna(v) else float(f"{float(v):.10g}") for v in stats.iloc[0, 2:]],
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()[:32]
    path = cache / f"{key}.json" if cache is not None else None
    if path is not None and path.is_file():
        return pd.DataFrame(json.loads(path.read_text()), columns=PROFILE_COLUMNS), span
    train = warehouse.query(
        f"SELECT date, {', '.join(names)} FROM features WHERE date >= ? AND date <= ?", window
    )
    profile = training_profile(train, names, bins=ops.drift_bins, window_days=ops.drift_window_days)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # two processes may compute the same profile
        tmp.write_text(json.dumps(profile.to_dict("records")))
        tmp.replace(path)  # whole or absent for a reader
    return profile, span
