"""Risk model: forecast each name's (and the equal-weight universe's) volatility over h sessions.

Target: the realized standard deviation of the return over the next h sessions, sqrt(sum of the next h
squared daily returns) (not annualized). Models, all forecasting that h-session variance at the close of d
from returns dated <= d:
- `ewma`: RiskMetrics (J.P. Morgan 1996), sigma2_d = lambda sigma2_(d-1) + (1 - lambda) r_d^2 with
  lambda = 0.94, times h (the square-root-of-time rule; no mean reversion);
- `har`: Corsi's (2009) heterogeneous autoregression on daily squared returns, the mean daily variance
  of the next h sessions regressed (pooled OLS) on the last day's, week's and month's mean squared return;
- ML families on log-variance inputs (log squared returns over 1/5/22/63/126 sessions, the EWMA, the
  universe's, and range-based Parkinson / Garman-Klass variances where OHLC exist): `log_linear` (ridge)
  and `lightgbm`, both learning log variance, rescaled on their fit rows so the level is unbiased.
Walk-forward like the return models: the set used from a retrain date trains on rows whose target is
realized before it (purge plus embargo, quant/walk_forward.py); the last `calibration_days` of the
window (purged again) score every model by QLIKE, and the best there is `chosen` until the next retrain.
Loss: QLIKE (Patton 2011, robust to noise in the realized proxy), in the form log f + y / f, which is
defined where the realized variance y is 0 and differs from the normalized y/f - log(y/f) - 1 by a term
free of the forecast, so loss differences (and the Diebold-Mariano test, 1995) are the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from portfolio_dagster.quant import walk_forward
from portfolio_dagster.quant.significance import newey_west_tstat

EWMA, HAR, LOG_LINEAR, LIGHTGBM, CHOSEN = "ewma", "har", "log_linear", "lightgbm", "chosen"
BASELINES = (EWMA, HAR)
ML_FAMILIES = (LOG_LINEAR, LIGHTGBM)
RISK_MODELS = BASELINES + ML_FAMILIES
RISKMETRICS_LAMBDA = 0.94
# The equal-weight universe of the names given, forecast beside them (the barbell's volatility target).
UNIVERSE = "_universe"
RISK_COLUMNS = ["ticker", "date", "horizon", "model", "volatility", "valid_from"]
RV_WINDOWS = (1, 5, 22, 63, 126)
HAR_WINDOWS = (1, 5, 22)
# Floor on a daily variance: a day without a price change (r = 0) has log variance -inf otherwise.
_VAR_FLOOR = 1e-10
_EWMA_WARMUP = 20
_LN2 = math.log(2.0)


def realized_volatility(returns: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """date x ticker: sqrt(r_(d+1)^2 + ... + r_(d+h)^2); NaN where a return is missing or past the data."""
    sq = returns.pow(2)
    future = sq.rolling(horizon, min_periods=horizon).sum().shift(-horizon)
    return np.sqrt(future)


def ewma_variance(returns: pd.DataFrame, lam: float = RISKMETRICS_LAMBDA) -> pd.DataFrame:
    """date x ticker: the RiskMetrics daily variance at the close of each date (returns dated <= it);
    NaN before 20 returns are known."""
    return returns.pow(2).ewm(alpha=1.0 - lam, adjust=False, min_periods=_EWMA_WARMUP, ignore_na=True).mean()


def with_universe(returns: pd.DataFrame) -> pd.DataFrame:
    """The returns with the equal-weight universe's daily return (the mean of the names known that day)
    as one more column, UNIVERSE."""
    return returns.assign(**{UNIVERSE: returns.mean(axis=1, skipna=True)})


def _range_variances(ohlc: dict[str, pd.DataFrame] | None, columns) -> dict[str, pd.DataFrame]:
    """Daily Parkinson (1980) and Garman-Klass (1980) variances where open/high/low/close exist."""
    if not ohlc or not all(k in ohlc for k in ("open", "high", "low", "close")):
        return {}
    o, h, lo, c = (ohlc[k].reindex(columns=columns) for k in ("open", "high", "low", "close"))
    hl = np.log(h / lo)
    co = np.log(c / o)
    park = hl.pow(2) / (4 * _LN2)
    gk = 0.5 * hl.pow(2) - (2 * _LN2 - 1) * co.pow(2)
    valid = (h >= lo) & (lo > 0) & (o > 0)
    return {"parkinson": park.where(valid), "garman_klass": gk.clip(lower=0).where(valid)}


def risk_inputs(
    returns: pd.DataFrame, ohlc: dict[str, pd.DataFrame] | None = None, since=None
) -> pd.DataFrame:
    """Long rows (ticker, date, inputs) known at the close of date: mean squared returns over RV_WINDOWS
    (`rv_k`), the RiskMetrics variance (`ewma_var`), their logs (`log_*`), the universe's 22-session log
    variance (`log_universe_rv_22`) and, where OHLC exist, 22-session Parkinson / Garman-Klass log
    variances (NaN elsewhere). `returns` is date x ticker of simple daily returns; UNIVERSE is added.
    since: only the rows dated >= it (computed over the whole history, so the values are the same)."""
    r = with_universe(returns)
    sq = r.pow(2)
    panels = {f"rv_{k}": sq.rolling(k, min_periods=k).mean() for k in RV_WINDOWS}
    panels["ewma_var"] = ewma_variance(r)
    universe = panels["rv_22"][UNIVERSE]
    panels["universe_rv_22"] = pd.DataFrame({c: universe for c in r.columns}, index=r.index)
    for name, daily in _range_variances(ohlc, r.columns).items():
        panels[name] = daily.rolling(22, min_periods=22).mean()
    for name in list(panels):
        panels[f"log_{name}"] = np.log(panels[name].clip(lower=_VAR_FLOOR))
    if since is not None:
        panels = {k: p[p.index >= pd.Timestamp(since)] for k, p in panels.items()}
    stacked = pd.concat({k: p.stack(future_stack=True) for k, p in panels.items()}, axis=1)
    stacked.index.names = ["date", "ticker"]
    return stacked.reset_index()


def risk_rows(
    returns: pd.DataFrame, horizons, ohlc: dict[str, pd.DataFrame] | None = None, since=None
) -> pd.DataFrame:
    """risk_inputs with the target variance of each horizon (`target_var_{h}`: the squared realized
    volatility, NaN past the data), sorted by date, ticker; rows without the slowest input are dropped.
    since: only the rows dated >= it (the same values as in the whole history's rows)."""
    rows = risk_inputs(returns, ohlc, since)
    r = with_universe(returns)
    for h in horizons:
        target = realized_volatility(r, h).pow(2)
        target = (target[target.index >= pd.Timestamp(since)] if since is not None else target).stack(
            future_stack=True
        )
        target.index.names = ["date", "ticker"]
        rows = rows.merge(target.rename(f"target_var_{h}").reset_index(), on=["date", "ticker"], how="left")
    rows = rows[np.isfinite(rows[f"rv_{max(RV_WINDOWS)}"]) & np.isfinite(rows["ewma_var"])]
    return rows.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)


def row_dates(returns: pd.DataFrame) -> pd.DatetimeIndex:
    """The dates risk_rows has rows on (some name or the universe with the slowest input and the EWMA
    known): the calendar of the walk-forward, without building the rows."""
    r = with_universe(returns)
    sq = r.pow(2)
    known = np.isfinite(sq.rolling(max(RV_WINDOWS), min_periods=max(RV_WINDOWS)).mean()) & np.isfinite(
        ewma_variance(r)
    )
    return pd.DatetimeIndex(r.index[known.any(axis=1).to_numpy()]).sort_values()


def ml_input_names(rows: pd.DataFrame) -> list[str]:
    """The ML families' inputs: every log-variance column with values (range-based ones only with OHLC)."""
    return [c for c in rows.columns if c.startswith("log_") and rows[c].notna().any()]


def qlike(realized_var, forecast_var) -> np.ndarray:
    """QLIKE per row, log f + y / f (Patton 2011; y the realized variance, f the forecast variance)."""
    y, f = np.asarray(realized_var, dtype=float), np.asarray(forecast_var, dtype=float)
    return np.log(f) + y / f


@dataclass(frozen=True)
class DieboldMariano:
    """Mean loss difference a - b (negative: a is better), its HAC t-statistic and two-sided p-value."""

    mean_difference: float
    statistic: float
    pvalue: float
    dates: int


def diebold_mariano(loss_a, loss_b, dates, horizon: int = 1) -> DieboldMariano:
    """Diebold-Mariano (1995) test of equal expected loss of two forecasts on the same rows. The row
    differences are averaged per date (a panel's names share each day's shock), and the mean of that
    series is studentized with a Newey-West long-run variance at >= 2 (h - 1) lags (h-session targets
    overlap). Fewer than 3 dates: NaN."""
    d = pd.Series(np.asarray(loss_a, dtype=float) - np.asarray(loss_b, dtype=float))
    per_date = d.groupby(np.asarray(dates)).mean()
    per_date = per_date[np.isfinite(per_date.to_numpy())]
    if len(per_date) < 3:
        return DieboldMariano(float("nan"), float("nan"), float("nan"), len(per_date))
    t = newey_west_tstat(per_date.to_numpy(), horizon)
    p = float(2 * norm.sf(abs(t))) if np.isfinite(t) else (0.0 if abs(t) == math.inf else float("nan"))
    return DieboldMariano(float(per_date.mean()), float(t), p, len(per_date))


class RiskModel:
    """A risk estimator: fit(rows, target_var) on training rows, predict(rows) -> h-session variances."""

    name = ""

    def __init__(self, horizon: int, seed: int = 7, threads: int = 1) -> None:
        self.horizon, self.seed, self.threads = int(horizon), seed, threads

    def fit(self, rows: pd.DataFrame, target_var: np.ndarray) -> RiskModel:
        """Learn from rows (risk_inputs columns) and their realized h-session variances."""
        return self

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        """The h-session variance forecast of each row (> 0)."""
        raise NotImplementedError


class EwmaRisk(RiskModel):
    """RiskMetrics: h times the EWMA daily variance; nothing to fit."""

    name = EWMA

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return self.horizon * np.maximum(rows["ewma_var"].to_numpy(dtype=float), _VAR_FLOOR)


class HarRisk(RiskModel):
    """HAR (Corsi 2009) on daily squared returns: pooled OLS of the next h sessions' mean daily variance on
    the mean squared return of the last 1, 5 and 22 sessions."""

    name = HAR

    def _design(self, rows: pd.DataFrame) -> np.ndarray:
        x = rows[[f"rv_{k}" for k in HAR_WINDOWS]].to_numpy(dtype=float)
        return np.column_stack([np.ones(len(x)), x])

    def fit(self, rows: pd.DataFrame, target_var: np.ndarray) -> HarRisk:
        y = np.asarray(target_var, dtype=float) / self.horizon
        self.coef_, *_ = np.linalg.lstsq(self._design(rows), y, rcond=None)
        # A variance floor from the training rows: OLS in levels can go below zero.
        self.floor_ = max(float(np.quantile(y, 0.01)), _VAR_FLOOR)
        return self

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return self.horizon * np.maximum(self._design(rows) @ self.coef_, self.floor_)


class _LogVarianceRisk(RiskModel):
    """Learns log(target variance) from the log-variance inputs; exp(prediction) is a median, so it is
    rescaled by mean(y / exp(fit prediction)) on the fit rows, the level QLIKE is minimized at. A fitted
    model predicts from its native state (arrays, LightGBM model text: quant/risk_state.py), so a model
    read back from the cache predicts exactly what the freshly fitted one did."""

    def _fit_log(self, x: np.ndarray, log_y: np.ndarray) -> None:
        raise NotImplementedError

    def predict_log(self, x: np.ndarray) -> np.ndarray:
        """The log-variance prediction of the input matrix (columns: inputs_)."""
        raise NotImplementedError

    def fit(self, rows: pd.DataFrame, target_var: np.ndarray) -> _LogVarianceRisk:
        self.inputs_ = ml_input_names(rows)
        x = rows[self.inputs_].to_numpy(dtype=float)
        y = np.asarray(target_var, dtype=float)
        self._fit_log(x, np.log(np.maximum(y, _VAR_FLOOR)))
        self.scale_ = float(np.mean(y / np.exp(self.predict_log(x))))
        return self

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        x = rows[self.inputs_].to_numpy(dtype=float)
        return self.scale_ * np.exp(self.predict_log(x))


class LogLinearRisk(_LogVarianceRisk):
    """Ridge regression of log variance on the standardized log-variance inputs (missing inputs: the
    training mean). State: fill_ (training means), mean_, sd_ (standardization), coef_, intercept_."""

    name = LOG_LINEAR

    def _fit_log(self, x: np.ndarray, log_y: np.ndarray) -> None:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import StandardScaler

        imputer = SimpleImputer(keep_empty_features=True).fit(x)
        filled = imputer.transform(x)
        scaler = StandardScaler().fit(filled)
        ridge = Ridge(alpha=1.0).fit(scaler.transform(filled), log_y)
        self.fill_ = np.asarray(imputer.statistics_, dtype=float)
        self.mean_, self.sd_ = np.asarray(scaler.mean_, float), np.asarray(scaler.scale_, float)
        self.coef_, self.intercept_ = np.asarray(ridge.coef_, float), float(ridge.intercept_)

    def predict_log(self, x: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(x), self.fill_, x)
        return ((filled - self.mean_) / self.sd_) @ self.coef_ + self.intercept_


class LightGBMRisk(_LogVarianceRisk):
    """Gradient-boosted trees (LightGBM) on log variance: small, shallow and deterministic. State: the
    booster's model text (model_text_), which it predicts from."""

    name = LIGHTGBM

    def _fit_log(self, x: np.ndarray, log_y: np.ndarray) -> None:
        import lightgbm as lgb

        model = lgb.LGBMRegressor(
            n_estimators=150,
            learning_rate=0.05,
            num_leaves=15,
            min_child_samples=200,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=self.seed,
            n_jobs=self.threads,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        ).fit(x, log_y)
        self.load_model_text(model.booster_.model_to_string())

    def load_model_text(self, text: str) -> None:
        """Predict from this LightGBM model text (the fitted or the cached booster)."""
        import lightgbm as lgb

        self.model_text_ = text
        self.booster_ = lgb.Booster(model_str=text)

    def predict_log(self, x: np.ndarray) -> np.ndarray:
        return self.booster_.predict(x, num_threads=self.threads)


_CLASSES = {c.name: c for c in (EwmaRisk, HarRisk, LogLinearRisk, LightGBMRisk)}


def risk_model_class(name: str) -> type[RiskModel]:
    """The estimator class of a risk model name (ewma, har, log_linear, lightgbm)."""
    if name not in _CLASSES:
        raise ValueError(f"unknown risk model {name!r}; known: {', '.join(_CLASSES)}")
    return _CLASSES[name]


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


def train_risk_set(rows: pd.DataFrame, calendar: pd.DatetimeIndex, asof, spec: RiskSpec) -> RiskSet | None:
    """Fit every model on the purged rows before `asof`'s calibration window and choose the one with the
    lowest QLIKE on that window (the inner window: its targets are realized before `asof`). None when the
    fit rows span fewer than `min_train_days` dates or the calibration window is empty."""
    target = f"target_var_{spec.horizon}"
    s = walk_forward.split(
        calendar, pd.Timestamp(asof), spec.horizon, spec.embargo_days, spec.calibration_days
    )
    known = rows[np.isfinite(rows[target].to_numpy(dtype=float))]
    fit, cal = walk_forward.fit_and_validation(known, s)
    if fit["date"].nunique() < spec.min_train_days or cal.empty:
        return None
    fit = _thin(fit, spec.max_train_rows)
    y_fit, y_cal = fit[target].to_numpy(dtype=float), cal[target].to_numpy(dtype=float)
    models, losses = {}, {}
    for name in (*BASELINES, *spec.families):
        model = risk_model_class(name)(spec.horizon, spec.seed, spec.threads).fit(fit, y_fit)
        models[name] = model
        losses[name] = float(np.mean(qlike(y_cal, model.predict(cal))))
    chosen = min(losses, key=lambda k: (losses[k], k))
    return RiskSet(pd.Timestamp(asof), models, losses, chosen)


def walk_forward_risk(
    rows: pd.DataFrame, schedule: pd.DatetimeIndex, spec: RiskSpec
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(forecasts, selection). forecasts: RISK_COLUMNS for every row dated on or after the first usable
    set, by each model of the set trained at the latest retrain date <= it (valid_from), plus `chosen`.
    selection: asof, horizon, model, calibration_qlike, chosen (bool) per retrain date; rows: risk_rows."""
    rows = rows.sort_values(["date", "ticker"], kind="stable").reset_index(drop=True)
    calendar = pd.DatetimeIndex(rows["date"].unique()).sort_values()
    sets = [m for m in (train_risk_set(rows, calendar, a, spec) for a in pd.DatetimeIndex(schedule)) if m]
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
