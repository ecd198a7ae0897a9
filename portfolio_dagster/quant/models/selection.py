"""Choosing among model configurations by nested walk-forward.

The outer loop is the retrain schedule: the set chosen at retrain date A forecasts [A, next retrain).
The choice at A looks only at the inner windows: every candidate's own out-of-sample forecasts of
the earlier outer periods whose targets were realized before A, purged like training rows
(pos(d) + horizon + embargo < pos(A)). Score: the mean per-date rank IC (cross-sectional Spearman)
of the forward-return forecast; the first candidate (the configured base) wins ties and is used
until every candidate has `min_dates` scored dates. So the outer test window of A is never seen by
the choice made at A, and each candidate trained is one configuration tried (deflated Sharpe).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from portfolio_dagster.quant import walk_forward
from portfolio_dagster.quant.metrics import cross_sectional_ic
from portfolio_dagster.quant.models import ENSEMBLE
from portfolio_dagster.quant.models.training import (
    FORECAST_COLUMNS,
    ModelSet,
    TrainingSpec,
    context_days,
    forecast_frame,
    period_context,
    train_model_set,
)

# Scored inner dates every candidate needs before the choice departs from the base configuration.
MIN_SELECTION_DATES = 126


@dataclass(frozen=True)
class Candidate:
    """One configuration: a name, the target the families learn, and per-family parameter overrides."""

    name: str
    target_kind: str = "return"
    params: dict = field(default_factory=dict)  # family -> overrides of the base parameters

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:12]


BASE_CANDIDATE = "base"


def candidates_from_config(models_cfg) -> list[Candidate]:
    """The `models` section's own settings first (`base`), then its `candidates` (a ModelsConfig)."""
    out = [Candidate(BASE_CANDIDATE, models_cfg.target)]
    out += [
        Candidate(c.name, c.target, {f: dict(p) for f, p in c.params.items()}) for c in models_cfg.candidates
    ]
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise ValueError(f"model candidates need distinct names (and none named {BASE_CANDIDATE!r}): {names}")
    return out


def candidate_spec(base, candidate: Candidate):
    """The base TrainingSpec with the candidate's target and parameter overrides."""
    params = {f: dict(p) | dict(candidate.params.get(f, {})) for f, p in base.params.items()}
    return dataclasses.replace(base, target_kind=candidate.target_kind, params=params)


@dataclass(frozen=True)
class Choice:
    """The nested walk-forward choice at one retrain date: the chosen candidate and the inner scores."""

    asof: pd.Timestamp
    chosen: str
    scores: dict[str, float]  # candidate -> mean inner rank IC (NaN: not enough dates)
    inner_first: pd.Timestamp | None  # the inner forecast dates the choice read
    inner_last: pd.Timestamp | None
    inner_dates: int


def choose(
    asof: pd.Timestamp,
    history: dict[str, pd.DataFrame],
    calendar: pd.DatetimeIndex,
    horizon: int,
    embargo: int,
    min_dates: int = MIN_SELECTION_DATES,
) -> Choice:
    """history: candidate (in priority order) -> its earlier out-of-sample forecasts (date, prediction,
    actual). Reads only dates whose target is realized before `asof` (the purge)."""
    window = walk_forward.training_window(calendar, asof, horizon, embargo)
    names = list(history)
    scores, used = {}, []
    for name, frame in history.items():
        inner = frame[frame["date"] <= window.end] if not window.empty else frame.iloc[0:0]
        days = pd.Index(inner["date"].unique())
        # A date whose forecasts do not vary across names ranks nothing: it scores 0.
        ic = cross_sectional_ic(inner, "prediction", "actual", rank=True).reindex(days, fill_value=0.0)
        used.append(inner["date"])
        scores[name] = float(ic.mean()) if len(days) >= min_dates else float("nan")
    dates = pd.concat(used) if used else pd.Series(dtype="datetime64[ns]")
    ready = all(np.isfinite(v) for v in scores.values())
    chosen = max(names, key=lambda n: (scores[n], -names.index(n))) if ready and names else names[0]
    return Choice(
        asof,
        chosen,
        scores,
        dates.min() if len(dates) else None,
        dates.max() if len(dates) else None,
        int(dates.nunique()),
    )


@dataclass(frozen=True)
class TrainedPeriod:
    """One retrain date of a horizon's schedule: the model sets trained there (candidate -> ModelSet; the
    ones `needed`), the nested choice among the candidates, and when the period was forecast, its rows
    (ctx, keep: period_context) and each new set's predictions of them."""

    asof: pd.Timestamp
    sets: dict[str, ModelSet]
    choice: Choice
    ctx: pd.DataFrame | None = None
    keep: np.ndarray | None = None
    predictions: dict[str, dict] = field(default_factory=dict)


def train_schedule(
    rows: pd.DataFrame,
    calendar: pd.DatetimeIndex,
    schedule: pd.DatetimeIndex,
    specs: dict[str, TrainingSpec],
    target: str,
    *,
    needed: Callable[[str, pd.Timestamp], bool] = lambda name, asof: True,
    stored_prediction: Callable[[str, pd.Timestamp, pd.DataFrame, np.ndarray], np.ndarray] | None = None,
    forecast: bool = False,
    min_dates: int = MIN_SELECTION_DATES,
) -> Iterator[TrainedPeriod | None]:
    """The training schedule of one horizon, in retrain order: at each date of `schedule` the candidates'
    model sets (`specs`, in priority order; one train_model_set call per set) and the nested walk-forward
    choice among them (choose: only inner forecasts realized before the date). Yields a TrainedPeriod per
    date trained, None for a date skipped for short history. `needed(name, asof)`: whether that set must
    be trained (False: it is stored already; `stored_prediction(name, asof, ctx, keep)` gives its
    ensemble forecast of the period's rows, needed only to choose among several candidates). Dates after
    the last needed set are not visited; with one candidate, dates with nothing needed are not either.
    With several candidates (or `forecast`), every set forecasts its period (period_context): inner
    history for the later choices."""
    names = list(specs)
    selecting = len(names) > 1
    horizon, embargo = next(iter(specs.values())).horizon, next(iter(specs.values())).embargo_days
    lookback = max(context_days(spec) for spec in specs.values())
    history = {name: empty_history() for name in names}
    missing = [asof for asof in schedule if any(needed(name, asof) for name in names)]
    for i, asof in enumerate(schedule):
        if not missing or asof > missing[-1] or (not selecting and asof not in missing):
            continue
        sets = {n: train_model_set(rows, calendar, asof, target, specs[n]) for n in names if needed(n, asof)}
        if any(ms is None for ms in sets.values()):
            yield None
            continue
        choice = choose(asof, history, calendar, horizon, embargo, min_dates)
        if not (selecting or forecast):
            yield TrainedPeriod(asof, sets, choice)
            continue
        stop = schedule[i + 1] if i + 1 < len(schedule) else None
        ctx, keep = period_context(rows, calendar, asof, stop, lookback)
        predictions = {name: ms.predict(ctx) for name, ms in sets.items()}
        for name in names:
            if name in predictions:
                point = predictions[name][ENSEMBLE][0]
            elif stored_prediction is not None:
                point = stored_prediction(name, asof, ctx, keep)
            else:
                raise ValueError(f"set {name} at {asof.date()} is stored but no stored_prediction is given")
            history[name] = add_history(history[name], ctx, keep, point, ctx[target].to_numpy())
        yield TrainedPeriod(asof, sets, choice, ctx, keep, predictions)


def nested_walk_forward(
    rows: pd.DataFrame,
    schedule: pd.DatetimeIndex,
    base_spec,
    candidates: list[Candidate],
    target: str,
    min_dates: int = MIN_SELECTION_DATES,
) -> tuple[pd.DataFrame, list[Choice]]:
    """Forecasts (ticker, date, horizon, model, prediction, lower, upper, valid_from, candidate) of the
    candidate chosen at each retrain date, and the choices: train_schedule with every candidate trained
    at every retrain date, each forecasting its period (inner history for later choices)."""
    rows = rows.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)
    calendar = pd.DatetimeIndex(rows["date"].unique()).sort_values()
    specs = {c.name: candidate_spec(base_spec, c) for c in candidates}
    out, choices = [], []
    for period in train_schedule(rows, calendar, schedule, specs, target, forecast=True, min_dates=min_dates):
        if period is None:
            continue
        chosen = period.choice.chosen
        choices.append(period.choice)
        preds = period.predictions[chosen]
        out.append(
            forecast_frame(period.ctx, period.keep, base_spec.horizon, preds, period.asof).assign(
                candidate=chosen
            )
        )
    return (
        pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=[*FORECAST_COLUMNS, "candidate"])
    ), choices


def empty_history() -> pd.DataFrame:
    """An empty inner-forecast history (date, prediction, actual) for one candidate."""
    return pd.DataFrame(
        {
            "date": pd.Series(dtype="datetime64[ns]"),
            "prediction": pd.Series(dtype=float),
            "actual": pd.Series(dtype=float),
        }
    )


def add_history(
    history: pd.DataFrame, ctx: pd.DataFrame, keep: np.ndarray, prediction: np.ndarray, actual: np.ndarray
) -> pd.DataFrame:
    """A candidate's out-of-sample history plus one period's ensemble forecasts (kept rows only)."""
    period = pd.DataFrame(
        {
            "date": ctx["date"].to_numpy()[keep],
            "prediction": np.asarray(prediction)[keep],
            "actual": np.asarray(actual)[keep],
        }
    )
    return pd.concat([history, period], ignore_index=True) if len(history) else period


def candidate_hash(base_hash: str, candidate: Candidate) -> str:
    """The config hash of a candidate's models: the run's own for the base, else base + candidate."""
    if candidate.name == BASE_CANDIDATE:
        return base_hash
    return hashlib.sha256(f"{base_hash}:{candidate.fingerprint()}".encode()).hexdigest()[:12]


def choice_record(choice: Choice, candidate: str) -> dict:
    """The choice as JSON-able metadata of one candidate's set (registry metrics)."""
    return {
        "candidate": candidate,
        "chosen": choice.chosen,
        "selected": candidate == choice.chosen,
        "inner_scores": {k: (None if not np.isfinite(v) else v) for k, v in choice.scores.items()},
        "inner_first": str(choice.inner_first.date()) if choice.inner_first is not None else None,
        "inner_last": str(choice.inner_last.date()) if choice.inner_last is not None else None,
        "inner_dates": choice.inner_dates,
    }
