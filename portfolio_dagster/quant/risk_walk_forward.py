"""The risk model's walk-forward: the set of models trained at each retrain date and its forecasts.

Walk-forward like the return models: the set used from a retrain date trains on rows whose target is
realized before it (purge plus embargo, quant/walk_forward.py); the last `calibration_days` of the
window (purged again) score every model by QLIKE, and `chosen` until the next retrain is the model with
the lowest mean of those scores over this set's calibration window and every earlier set's (each an inner
window of its own date, so every score is out of sample and known at the retrain date). One window of 126
sessions holds about six independent 21-session targets: chosen on it alone, the pick among models a
few percent apart in QLIKE was mostly noise (on the bundled sample it moved between all four families
from year to year).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolio_dagster.quant import walk_forward
from portfolio_dagster.quant.risk import BASELINES, CHOSEN, ML_FAMILIES, RISK_COLUMNS
from portfolio_dagster.quant.risk_evaluation import qlike
from portfolio_dagster.quant.risk_models import RiskModel, risk_model_class


@dataclass(frozen=True)
class RiskSpec:
    """Walk-forward settings of the risk model, as plain values (quant/ does not read the config)."""

    horizon: int
    families: tuple[str, ...] = ML_FAMILIES
    embargo_days: int = 5
    calibration_days: int = 126
    min_train_days: int = 500
    max_train_rows: int = 200_000
    seed: int = 7
    threads: int = 1


@dataclass(frozen=True)
class RiskSet:
    """The models trained at one retrain date, their inner-window QLIKE and the one chosen there."""

    asof: pd.Timestamp
    models: dict[str, RiskModel]
    calibration_qlike: dict[str, float]
    chosen: str


def _thin(frame: pd.DataFrame, limit: int) -> pd.DataFrame:
    """At most `limit` rows, every k-th (deterministic, spread over the whole window)."""
    if len(frame) <= limit:
        return frame
    return frame.iloc[:: int(math.ceil(len(frame) / limit))]


def choose(losses: Sequence[Mapping[str, float]]) -> str:
    """The model with the lowest mean QLIKE over these calibration windows (a model is averaged over the
    windows that scored it; ties: the first name)."""
    means = {}
    for name in sorted({k for window in losses for k in window}):
        scores = [w[name] for w in losses if name in w and np.isfinite(w[name])]
        means[name] = float(np.mean(scores)) if scores else math.inf
    return min(means, key=lambda k: (means[k], k))


def train_risk_set(
    rows: pd.DataFrame,
    calendar: pd.DatetimeIndex,
    asof,
    spec: RiskSpec,
    earlier: Sequence[Mapping[str, float]] = (),
) -> RiskSet | None:
    """Fit every model on the purged rows before `asof`'s calibration window, score each by QLIKE on that
    window (the inner window: its targets are realized before `asof`) and choose by `choose` over it and
    the `earlier` sets' calibration scores (in retrain order). None when the fit rows span fewer than
    `min_train_days` dates or the calibration window is empty."""
    target = f"target_var_{spec.horizon}"
    s = walk_forward.split(
        calendar, pd.Timestamp(asof), spec.horizon, spec.embargo_days, spec.calibration_days
    )
    fit, cal = _fit_and_calibration(rows, s, target)
    if fit["date"].nunique() < spec.min_train_days or cal.empty:
        return None
    fit = _thin(fit, spec.max_train_rows)
    y_fit, y_cal = fit[target].to_numpy(dtype=float), cal[target].to_numpy(dtype=float)
    models, losses = {}, {}
    for name in (*BASELINES, *spec.families):
        model = risk_model_class(name)(spec.horizon, spec.seed, spec.threads).fit(fit, y_fit)
        models[name] = model
        losses[name] = float(np.mean(qlike(y_cal, model.predict(cal))))
    return RiskSet(pd.Timestamp(asof), models, losses, choose([*earlier, losses]))


def _fit_and_calibration(rows: pd.DataFrame, s: walk_forward.Split, target: str):
    """walk_forward.fit_and_validation of the rows with a known `target`. Rows sorted by date (risk_rows
    are): each part a positional slice of its dates, filtered to known targets (the same rows in the same
    order as masking the whole table, which a set did three times: most of a 500-name set's selection)."""
    slice_ = walk_forward.date_slicer(rows)
    if slice_ is None:
        known = rows[np.isfinite(rows[target].to_numpy(dtype=float))]
        return walk_forward.fit_and_validation(known, s)
    none = rows.iloc[0:0]
    if s.window.empty:
        return none, none

    def known(first, last) -> pd.DataFrame:
        piece = slice_(first, last)
        return piece[np.isfinite(piece[target].to_numpy(dtype=float))]

    end = s.window.end
    fit = known(s.window.start, min(s.fit_end, end)) if s.fit_end is not None else none
    cal = (
        known(max(s.validation_start, s.window.start or s.validation_start), end)
        if s.validation_start is not None
        else none
    )
    return fit, cal


def walk_forward_risk(
    rows: pd.DataFrame, schedule: pd.DatetimeIndex, spec: RiskSpec
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(forecasts, selection). forecasts: RISK_COLUMNS for every row dated on or after the first usable
    set, by each model of the set trained at the latest retrain date <= it (valid_from), plus `chosen`.
    selection: asof, horizon, model, calibration_qlike, chosen (bool) per retrain date; rows: risk_rows."""
    rows = rows.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)
    calendar = pd.DatetimeIndex(rows["date"].unique()).sort_values()
    sets: list[RiskSet] = []
    for asof in pd.DatetimeIndex(schedule):
        rs = train_risk_set(rows, calendar, asof, spec, [s.calibration_qlike for s in sets])
        if rs is not None:
            sets.append(rs)
    return predict_risk_sets(rows, sets, spec)


def predict_risk_sets(
    rows: pd.DataFrame, sets: list[RiskSet], spec: RiskSpec
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """walk_forward_risk's (forecasts, selection) from trained sets (sorted by asof): each row of `rows`
    (risk_rows, any subset of dates) forecast by the set of the latest asof <= its date."""
    rows = rows.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)
    out, selection = [], []
    for i, rs in enumerate(sets):
        stop = sets[i + 1].asof if i + 1 < len(sets) else None
        mask = (rows["date"] >= rs.asof) & ((rows["date"] < stop) if stop is not None else True)
        period = rows[np.asarray(mask)]
        if period.empty:
            continue
        preds = {name: m.predict(period) for name, m in rs.models.items()}
        preds[CHOSEN] = preds[rs.chosen]
        base = {"ticker": period["ticker"].to_numpy(), "date": period["date"].to_numpy()}
        for name, var in preds.items():
            out.append(
                pd.DataFrame(
                    base
                    | {
                        "horizon": spec.horizon,
                        "model": name,
                        "volatility": np.sqrt(var),
                        "valid_from": rs.asof,
                    }
                )
            )
        selection += [
            {
                "asof": rs.asof,
                "horizon": spec.horizon,
                "model": k,
                "calibration_qlike": v,
                "chosen": k == rs.chosen,
            }
            for k, v in rs.calibration_qlike.items()
        ]
    forecasts = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=RISK_COLUMNS)
    return forecasts[RISK_COLUMNS], pd.DataFrame(
        selection, columns=["asof", "horizon", "model", "calibration_qlike", "chosen"]
    )
