"""Train one model set (every enabled family + the ensemble) for one (as-of date, horizon) split into
fit | validation (early stopping) | calibration (intervals, ensemble weights) windows, and a pure
walk-forward runner: fit on the schedule, forecast each date with the set valid then."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from portfolio_dagster.quant import features as feature_set
from portfolio_dagster.quant import walk_forward
from portfolio_dagster.quant.models import ENSEMBLE, SEQUENCE_FAMILIES, Ensemble, Forecaster, family_class
from portfolio_dagster.quant.models.base import subsample_dates
from portfolio_dagster.quant.models.ensemble import information_coefficient
from portfolio_dagster.quant.targets import MODEL_TARGET_KINDS, target_name

# Default lookback of a sequence family (sequence.LOOKBACK; not imported: that loads torch).
LOOKBACK = 60


@dataclass(frozen=True)
class TrainingSpec:
    """What the models config says, as plain values (quant/ does not read the config file)."""

    families: tuple[str, ...]
    params: dict[str, dict]  # family -> hyper-parameters
    feature_names: tuple[str, ...]
    horizon: int
    embargo_days: int
    validation_days: int
    min_train_days: int
    rolling_days: int | None = None
    seed: int = 7
    threads: int = 1
    # The calibration window after the validation window (conformal intervals, ensemble weights);
    # 0: the validation window calibrates too (the config requires a separate one).
    calibration_days: int = 0
    # What the families learn: the forward return, or its cross-sectional excess over the universe or rank.
    target_kind: str = "return"


def model_feature_names(selected=feature_set.DEFAULT_MODEL_FEATURES) -> tuple[str, ...]:
    """The model inputs: config `features.selected` (None: every feature), recorded in the registry."""
    return feature_set.selected_feature_names(selected)


def training_spec(models_cfg, horizon: int, selected=feature_set.DEFAULT_MODEL_FEATURES) -> TrainingSpec:
    """The spec for one horizon from the `models` config section (a ModelsConfig) and `features.selected`."""
    m = models_cfg
    return TrainingSpec(
        families=tuple(m.enabled),
        params=m.family_params(),
        feature_names=model_feature_names(selected),
        horizon=horizon,
        embargo_days=m.embargo_days,
        validation_days=m.validation_days,
        min_train_days=m.min_train_days,
        rolling_days=m.rolling_days if m.window == "rolling" else None,
        seed=m.seed,
        threads=m.threads,
        calibration_days=m.calibration_days,
        target_kind=m.target,
    )


@dataclass
class ModelSet:
    """One trained model set (retrain date x horizon): its split, families, ensemble, metrics, importance."""

    split: walk_forward.CalibratedSplit
    models: dict[str, Forecaster]
    ensemble: Ensemble
    metrics: dict[str, dict] = field(default_factory=dict)  # family -> calibration-window metrics
    importance: pd.DataFrame = field(default_factory=pd.DataFrame)  # family, feature, gain, permutation
    fit_seconds: dict[str, float] = field(default_factory=dict)  # wall time per family (benchmarks only)

    def predict(self, x: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """family (and 'ensemble') -> (prediction, lower, upper) for every row of x."""
        out = {name: m.predict_interval(x) for name, m in self.models.items()}
        out[ENSEMBLE] = self.ensemble.interval({k: v[0] for k, v in out.items()})
        return out


def validation_metrics(pred: np.ndarray, lower: np.ndarray, upper: np.ndarray, y: np.ndarray) -> dict:
    """Skill of forward-return forecasts on held-out rows (the calibration window; keys keep the
    historical `validation_` prefix)."""
    if not len(y):
        return {"validation_rows": 0}
    return {
        "validation_rows": int(len(y)),
        "validation_ic": information_coefficient(pred, y),
        "validation_directional_accuracy": float(np.mean(np.sign(pred) == np.sign(y))),
        "validation_base_rate": float(np.mean(y > 0)),
        "validation_mae": float(np.mean(np.abs(pred - y))),
        "validation_coverage": float(np.mean((y >= lower) & (y <= upper))),
    }


def cross_sectional_output(model: Forecaster, spec: TrainingSpec) -> bool:
    """Whether the model's output needs the output map: a cross-sectional target or a ranking objective."""
    return spec.target_kind != "return" or bool(getattr(model, "ranking", False))


def train_model_set(
    rows: pd.DataFrame, calendar: pd.DatetimeIndex, asof: pd.Timestamp, target: str, spec: TrainingSpec
) -> ModelSet | None:
    """rows: ticker, date, features (+ regime columns), `target` (the forward return) and, for another
    spec.target_kind, that target's column; sorted by date, ticker. Fit rows train; the validation window
    early-stops (and fits the output map of cross-sectional models); the calibration window after it sets
    the conformal intervals and the ensemble weights. None when the split has fewer than
    `min_train_days` fit days or an empty validation or calibration window."""
    if spec.target_kind not in MODEL_TARGET_KINDS:
        raise ValueError(f"unknown model target {spec.target_kind!r}; known: {', '.join(MODEL_TARGET_KINDS)}")
    learn = target if spec.target_kind == "return" else target_name(spec.horizon, spec.target_kind)
    if learn not in rows.columns:
        raise ValueError(f"rows lack the training target column {learn!r}")
    s = walk_forward.calibrated_split(
        calendar,
        asof,
        spec.horizon,
        spec.embargo_days,
        spec.validation_days,
        spec.calibration_days,
        spec.rolling_days,
    )
    needed = list(dict.fromkeys([target, learn]))
    parts = _split_parts(rows, s, needed)
    if parts is None:  # rows not sorted by date: select by masks (copies the table once)
        fit, val, cal = walk_forward.fit_validation_calibration(rows.dropna(subset=needed), s)
    else:
        fit, val, cal = parts
    if spec.calibration_days == 0:
        cal = val
    if fit["date"].nunique() < spec.min_train_days or val.empty or cal.empty:
        return None
    names = list(spec.feature_names)
    # The row families learn from at most their max_train_rows of whole fit dates: one draw for the
    # largest limit (each family thins it further to its own); sequence families read the whole window.
    limit = _row_limit(spec)
    thin = (
        fit
        if limit is None or len(fit) <= limit
        else fit.iloc[subsample_dates(fit["date"], limit, spec.seed)]
    )
    r_fit = fit[target].to_numpy(dtype=float)  # the output map's drift: every fit row's mean return
    y_val = val[learn].to_numpy(dtype=float)
    r_val, r_cal = (f[target].to_numpy(dtype=float) for f in (val, cal))
    models, metrics, importance, cal_preds, fit_seconds = {}, {}, [], {}, {}
    for family in spec.families:
        t0 = time.perf_counter()
        model = family_class(family)(spec.params.get(family, {}), seed=spec.seed, threads=spec.threads)
        rows_in = fit if family in SEQUENCE_FAMILIES else thin
        y_fit = rows_in[learn].to_numpy(dtype=float)
        model.fit(rows_in, y_fit, names, val, y_val)
        if cross_sectional_output(model, spec):
            model.map_output(r_fit, val, r_val)
        model.calibrate_intervals(cal, r_cal)
        fit_seconds[family] = time.perf_counter() - t0
        pred, lo, hi = model.predict_interval(cal)
        cal_preds[family] = pred
        metrics[family] = validation_metrics(pred, lo, hi, r_cal) | {
            "fit_rows": _rows_used(rows_in, spec, family),
            "fit_rows_available": int(len(fit)),
            "early_stopping_rows": int(len(y_val)),
            "target": spec.target_kind,
            "output_map": model.output_map,
        }
        importance.append(
            pd.DataFrame(
                {
                    "family": family,
                    "feature": names,
                    "gain": model.gain_importance(),
                    "permutation": model.permutation_importance(val, r_val),
                }
            )
        )
        models[family] = model
    ensemble = Ensemble.from_validation(cal_preds, r_cal)
    pred, lo, hi = ensemble.interval(cal_preds)
    metrics[ENSEMBLE] = validation_metrics(pred, lo, hi, r_cal) | {"weights": ensemble.weights}
    return ModelSet(s, models, ensemble, metrics, pd.concat(importance, ignore_index=True), fit_seconds)


def _limit(spec: TrainingSpec, family: str) -> int | None:
    return spec.params.get(family, {}).get("max_train_rows")


def _rows_used(fit: pd.DataFrame, spec: TrainingSpec, family: str) -> int:
    """The fit rows a family learns from after its own max_train_rows (whole dates; sequence families
    draw rows)."""
    limit = _limit(spec, family)
    if limit is None or len(fit) <= limit:
        return len(fit)
    return limit if family in SEQUENCE_FAMILIES else len(subsample_dates(fit["date"], limit, spec.seed))


def _row_limit(spec: TrainingSpec) -> int | None:
    """The largest max_train_rows of the enabled row (non-sequence) families; None: one reads all rows."""
    limits = [_limit(spec, f) for f in spec.families if f not in SEQUENCE_FAMILIES]
    return None if not limits or None in limits else max(limits)


def _split_parts(
    rows: pd.DataFrame, s: walk_forward.CalibratedSplit, needed: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None:
    """(fit, validation, calibration) rows of date-sorted `rows` for split s, without the rows lacking a
    `needed` value: each part a positional slice of its dates (the table is not copied; a part only
    where rows lack a value). None when rows are not sorted by date."""
    slice_ = walk_forward.date_slicer(rows)
    if slice_ is None:
        return None

    def part(first, last) -> pd.DataFrame:
        if first is None or last is None:
            return rows.iloc[0:0]
        piece = slice_(first, last)
        ok = piece[needed].notna().all(axis=1).to_numpy()
        return piece if ok.all() else piece[ok]

    win = s.window
    return (
        part(win.start, s.fit_end),
        part(s.validation_start, s.validation_end),
        part(s.calibration_start, win.end),
    )


def walk_forward_forecasts(
    rows: pd.DataFrame, schedule: pd.DatetimeIndex, spec: TrainingSpec, target: str
) -> pd.DataFrame:
    """Forecasts (ticker, date, horizon, model, prediction, lower, upper) for every row dated on or
    after the first usable model, each by the model set trained at the latest retrain date <= it."""
    rows = rows.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)
    calendar = pd.DatetimeIndex(rows["date"].unique()).sort_values()
    sets = [(asof, train_model_set(rows, calendar, asof, target, spec)) for asof in schedule]
    sets = [(a, m) for a, m in sets if m is not None]
    out = []
    for i, (asof, model_set) in enumerate(sets):
        stop = sets[i + 1][0] if i + 1 < len(sets) else None
        ctx, keep = period_context(rows, calendar, asof, stop, context_days(spec))
        if keep.any():
            out.append(forecast_frame(ctx, keep, spec.horizon, model_set.predict(ctx), asof))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=FORECAST_COLUMNS)


FORECAST_COLUMNS = ["ticker", "date", "horizon", "model", "prediction", "lower", "upper", "valid_from"]


def period_context(
    rows: pd.DataFrame,
    calendar: pd.DatetimeIndex,
    asof: pd.Timestamp,
    stop: pd.Timestamp | None,
    context: int,
) -> tuple[pd.DataFrame, np.ndarray]:
    """(ctx, keep): the rows a model set valid over [asof, stop) predicts, from `context` trading days
    before asof (sequence families read trailing rows), and the mask of the period's own rows."""
    first = calendar[max(0, int(calendar.searchsorted(asof)) - context)]
    ctx = rows[(rows["date"] >= first) & ((rows["date"] < stop) if stop is not None else True)]
    return ctx, np.asarray(ctx["date"] >= asof)


def forecast_frame(
    ctx: pd.DataFrame, keep: np.ndarray, horizon: int, preds: dict, asof: pd.Timestamp
) -> pd.DataFrame:
    """FORECAST_COLUMNS rows of one model set's predictions {model: (prediction, lower, upper)}, kept
    rows only."""
    base = pd.DataFrame({"ticker": ctx["ticker"].to_numpy()[keep], "date": ctx["date"].to_numpy()[keep]})
    return pd.concat(
        [
            base.assign(
                horizon=horizon,
                model=name,
                prediction=p[keep],
                lower=lo[keep],
                upper=hi[keep],
                valid_from=asof,
            )
            for name, (p, lo, hi) in preds.items()
        ],
        ignore_index=True,
    )


def context_days(spec: TrainingSpec) -> int:
    """Trading days of feature history to read before the first forecast date (the longest lookback of
    the enabled sequence families)."""
    return max(
        [
            int(spec.params.get(f, {}).get("lookback", LOOKBACK))
            for f in spec.families
            if f in SEQUENCE_FAMILIES
        ],
        default=0,
    )
