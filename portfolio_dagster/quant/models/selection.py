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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from portfolio_dagster.quant import walk_forward
from portfolio_dagster.quant.metrics import cross_sectional_ic
from portfolio_dagster.quant.models import ENSEMBLE
from portfolio_dagster.quant.models.training import (
    FORECAST_COLUMNS,
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


def nested_walk_forward(
    rows: pd.DataFrame,
    schedule: pd.DatetimeIndex,
    base_spec,
    candidates: list[Candidate],
    target: str,
    min_dates: int = MIN_SELECTION_DATES,
) -> tuple[pd.DataFrame, list[Choice]]:
    """Forecasts (ticker, date, horizon, model, prediction, lower, upper, valid_from, candidate) of the
    candidate chosen at each retrain date, and the choices. Every candidate is trained at every retrain
    date (train_model_set) and forecasts its period, which becomes inner history for later choices."""
    rows = rows.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)
    calendar = pd.DatetimeIndex(rows["date"].unique()).sort_values()
    specs = {c.name: candidate_spec(base_spec, c) for c in candidates}
    context = max(context_days(s) for s in specs.values())
    history = {c.name: empty_history() for c in candidates}
    out, choices = [], []
    for i, asof in enumerate(schedule):
        stop = schedule[i + 1] if i + 1 < len(schedule) else None
        sets = {n: train_model_set(rows, calendar, asof, target, s) for n, s in specs.items()}
        if any(ms is None for ms in sets.values()):
            continue
        choice = choose(asof, history, calendar, base_spec.horizon, base_spec.embargo_days, min_dates)
        choices.append(choice)
        ctx, keep = period_context(rows, calendar, asof, stop, context)
        for name, ms in sets.items():
            preds = ms.predict(ctx)
            history[name] = add_history(history[name], ctx, keep, preds[ENSEMBLE][0], ctx[target].to_numpy())
            if name == choice.chosen:
                out.append(forecast_frame(ctx, keep, base_spec.horizon, preds, asof).assign(candidate=name))
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
