"""The one small interface every forecaster implements, and what all of them share.

A forecaster takes a frame of rows (ticker, date, feature columns...) sorted by date then ticker,
and predicts the forward return of each row. It may be trained on another target (a cross-sectional
excess return or rank) or with a ranking objective: then an output map, fitted on the validation
window, turns its output into a forward return (the unconditional mean return of the fit rows plus a
slope times the output's deviation from its date's mean). Intervals are split-conformal: quantiles of
the return residuals on the calibration window (after the validation window, purged, never seen by the
fit nor by early stopping), added to the point forecast.

Artifacts: each model writes its native file (LightGBM text, XGBoost UBJ, torch state_dict, npz
arrays) plus a JSON manifest holding its state and the native file's sha256. The registry records
the manifest's sha256, so the chain manifest -> native file is verified on load. Never pickle.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

# Central 80% prediction interval.
INTERVAL_QUANTILES = (0.10, 0.90)
# Rows used for permutation importance (a deterministic subsample of the validation window).
PERMUTATION_ROWS = 1000
MANIFEST_SUFFIX = ".json"
# Relevance grades of the ranking objectives: each date's names in this many quantile buckets.
RANK_GRADES = 5
IDENTITY_MAP = {"kind": "identity"}


class ArtifactError(RuntimeError):
    """A model artifact that is missing or cannot be read."""


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def subsample(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most `limit` of n rows, the same for the same seed."""
    if limit is None or n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def subsample_dates(dates, limit: int | None, seed: int) -> np.ndarray:
    """Sorted row indices of whole dates, at most `limit` rows in all (at least one date): the dates in a
    seeded random order, kept while their rows fit. Cross-sectional and ranking models need each date's
    full cross-section; the same for the same seed, and all rows when they fit already."""
    values = np.asarray(dates)
    if limit is None or len(values) <= limit:
        return np.arange(len(values))
    codes, unique = pd.factorize(values)
    counts = np.bincount(codes, minlength=len(unique))
    order = np.random.default_rng(seed).permutation(len(unique))
    kept = max(1, int(np.searchsorted(np.cumsum(counts[order]), limit, side="right")))
    chosen = np.zeros(len(unique), dtype=bool)
    chosen[order[:kept]] = True
    return np.flatnonzero(chosen[codes])


def date_groups(dates: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(group sizes in row order, group id per row) of rows sorted by date: the ranking queries."""
    codes, _ = pd.factorize(np.asarray(dates))
    if len(codes) and np.any(np.diff(codes) < 0):
        raise ValueError("ranking objectives need rows sorted by date")
    return np.bincount(codes), codes


def relevance_grades(y: np.ndarray, dates: pd.Series, levels: int = RANK_GRADES) -> np.ndarray:
    """Integer grades 0..levels-1 of y's percentile within its date (higher y, higher grade)."""
    pct = pd.Series(np.asarray(y, dtype=float)).groupby(np.asarray(dates)).rank(pct=True).to_numpy()
    return np.clip(np.ceil(pct * levels) - 1, 0, levels - 1).astype(int)


def demean_by_date(values: np.ndarray, dates) -> np.ndarray:
    """Values minus their date's mean (the cross-sectional part of a prediction)."""
    values = np.asarray(values, dtype=float)
    return values - pd.Series(values).groupby(np.asarray(dates)).transform("mean").to_numpy()


def fit_output_map(output: np.ndarray, dates, returns: np.ndarray, drift: float) -> dict:
    """The map output -> forward return for a cross-sectional model: drift + slope x (output - date mean),
    slope the pooled within-date least-squares slope of the realized excess return on the output (>= 0:
    a model that ranks backwards on validation forecasts the drift only)."""
    x, y = demean_by_date(output, dates), demean_by_date(returns, dates)
    ok = np.isfinite(x) & np.isfinite(y)
    denom = float(np.sum(x[ok] ** 2))
    slope = max(float(np.sum(x[ok] * y[ok])) / denom, 0.0) if denom > 0 else 0.0
    return {"kind": "cross_sectional", "drift": float(drift), "slope": slope}


class Forecaster(ABC):
    """fit / predict / predict_interval / save / load. Subclasses implement the _native parts."""

    family: ClassVar[str]
    native_suffix: ClassVar[str]
    needs_sequences: ClassVar[bool] = False  # inputs are each ticker's trailing rows, not single rows

    def __init__(self, params: dict | None = None, seed: int = 7, threads: int = 1) -> None:
        self.params = dict(params or {})
        self.seed = seed
        self.threads = threads
        self.feature_names: list[str] = []
        self.residual_quantiles: tuple[float, float] = (0.0, 0.0)
        self.validation_rows = 0
        self.calibration_rows = 0
        self.output_map: dict = dict(IDENTITY_MAP)

    # --- what each family implements -------------------------------------------------------
    @abstractmethod
    def _fit(self, x: pd.DataFrame, y: np.ndarray, x_val: pd.DataFrame, y_val: np.ndarray) -> None: ...

    @abstractmethod
    def predict(self, x: pd.DataFrame) -> np.ndarray: ...

    @abstractmethod
    def _save_native(self, path: Path) -> None: ...

    @abstractmethod
    def _load_native(self, path: Path) -> None: ...

    def _state(self) -> dict:
        """Extra JSON-able state beyond the shared fields."""
        return {}

    def _set_state(self, state: dict) -> None:  # noqa: B027 - optional hook: most families have no extra state
        """Restore the extra state `_state` returned (nothing by default)."""

    def gain_importance(self) -> np.ndarray:
        """Importance per feature from the fitted model itself (NaN where the family has none)."""
        return np.full(len(self.feature_names), np.nan)

    # --- shared ------------------------------------------------------------------------------
    def fit(
        self,
        x: pd.DataFrame,
        y: np.ndarray,
        feature_names: list[str],
        x_val: pd.DataFrame,
        y_val: np.ndarray,
        x_cal: pd.DataFrame | None = None,
        y_cal: np.ndarray | None = None,
    ) -> Forecaster:
        """Fit on (x, y); (x_val, y_val) is the later, purged validation window (early stopping where the
        family has it); the conformal residual quantiles come from (x_cal, y_cal), the calibration window
        after it, or from the validation window when no calibration window is given."""
        self.feature_names = list(feature_names)
        self._fit(x, np.asarray(y, dtype=float), x_val, np.asarray(y_val, dtype=float))
        self.validation_rows = int(len(y_val))
        if x_cal is None:
            x_cal, y_cal = x_val, y_val
        self.calibrate_intervals(x_cal, y_cal)
        return self

    def map_output(self, fit_returns: np.ndarray, x_val: pd.DataFrame, val_returns: np.ndarray) -> None:
        """For a model trained on a cross-sectional target or ranking objective: fit the output map to
        forward returns on the validation window; the drift is the fit rows' mean forward return."""
        self.output_map = fit_output_map(
            self.predict(x_val),
            x_val["date"],
            np.asarray(val_returns, float),
            float(np.nanmean(fit_returns)) if len(fit_returns) else 0.0,
        )

    def calibrate_intervals(self, x_cal: pd.DataFrame, returns_cal: np.ndarray) -> None:
        """Split-conformal residual quantiles of the forward-return forecast on the calibration rows."""
        returns_cal = np.asarray(returns_cal, dtype=float)
        if len(returns_cal):
            resid = returns_cal - self.forecast(x_cal)
            self.residual_quantiles = tuple(float(q) for q in np.quantile(resid, INTERVAL_QUANTILES))
        self.calibration_rows = int(len(returns_cal))

    def forecast(self, x: pd.DataFrame) -> np.ndarray:
        """The forward-return forecast: the model's output through its output map."""
        return self.to_return(self.predict(x), x["date"])

    def to_return(self, output: np.ndarray, dates) -> np.ndarray:
        """The output map applied to outputs of rows dated `dates`."""
        if self.output_map.get("kind") == "cross_sectional":
            return self.output_map["drift"] + self.output_map["slope"] * demean_by_date(output, dates)
        return output

    def predict_interval(self, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pred = self.forecast(x)
        lo, hi = self.residual_quantiles
        return pred, pred + lo, pred + hi

    def permutation_importance(self, x_val: pd.DataFrame, y_val: np.ndarray) -> np.ndarray:
        """Increase of the validation MSE of the forward-return forecast when one feature's column is
        shuffled (seeded); y_val: forward returns."""
        y_val = np.asarray(y_val, dtype=float)
        idx = subsample(len(x_val), PERMUTATION_ROWS, self.seed)
        x_val, y_val = x_val.iloc[idx], y_val[idx]
        if not len(y_val):
            return np.full(len(self.feature_names), np.nan)
        base = float(np.mean((y_val - self.forecast(x_val)) ** 2))
        rng = np.random.default_rng(self.seed)
        out = []
        for name in self.feature_names:
            shuffled = x_val.copy()
            shuffled[name] = rng.permutation(shuffled[name].to_numpy())
            out.append(float(np.mean((y_val - self.forecast(shuffled)) ** 2)) - base)
        return np.asarray(out)

    def save(self, path: Path) -> Path:
        """Write the native file beside `path` and the manifest at `path` (.json); returns the manifest."""
        manifest = Path(path).with_suffix(MANIFEST_SUFFIX)
        native = manifest.with_name(manifest.stem + self.native_suffix)
        manifest.parent.mkdir(parents=True, exist_ok=True)
        self._save_native(native)
        manifest.write_text(
            json.dumps(
                {
                    "family": self.family,
                    "native_file": native.name,
                    "native_sha256": file_sha256(native),
                    "params": self.params,
                    "seed": self.seed,
                    "threads": self.threads,
                    "feature_names": self.feature_names,
                    "residual_quantiles": list(self.residual_quantiles),
                    "validation_rows": self.validation_rows,
                    "calibration_rows": self.calibration_rows,
                    "output_map": self.output_map,
                    "state": self._state(),
                },
                sort_keys=True,
            )
        )
        return manifest

    @classmethod
    def load(cls, manifest: Path) -> Forecaster:
        meta = read_manifest(manifest)
        if meta.get("family") != cls.family:
            raise ArtifactError(
                f"model artifact {manifest} is a {meta.get('family')!r} model, not {cls.family!r}"
            )
        native = Path(manifest).with_name(meta["native_file"])
        if not native.is_file():
            raise ArtifactError(f"model artifact missing: {native}")
        if file_sha256(native) != meta["native_sha256"]:
            raise ArtifactError(f"model artifact corrupt (checksum mismatch): {native}")
        model = cls(meta["params"], seed=meta["seed"], threads=meta["threads"])
        model.feature_names = list(meta["feature_names"])
        model.residual_quantiles = tuple(meta["residual_quantiles"])
        model.validation_rows = meta["validation_rows"]
        model.calibration_rows = meta.get("calibration_rows", meta["validation_rows"])
        model.output_map = dict(meta.get("output_map", IDENTITY_MAP))
        try:
            model._set_state(meta["state"])
            model._load_native(native)
        except ArtifactError:
            raise
        except Exception as exc:  # a native reader's own error type: report it as one line
            raise ArtifactError(
                f"model artifact corrupt: {native}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
            ) from None
        return model


def read_manifest(manifest: Path) -> dict:
    """A model artifact's JSON manifest; ArtifactError (one line) when it is missing or corrupt."""
    try:
        meta = json.loads(Path(manifest).read_text())
    except FileNotFoundError:
        raise ArtifactError(f"model artifact missing: {manifest}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"model artifact corrupt: {manifest}: {exc}") from None
    if not isinstance(meta, dict) or "family" not in meta:
        raise ArtifactError(f"model artifact corrupt: {manifest}: not a model manifest")
    return meta


def matrix(x: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The feature columns as a float64 array, in the recorded order."""
    missing = [n for n in names if n not in x.columns]
    if missing:
        raise ValueError(f"input lacks the model's features: {', '.join(missing)}")
    return x[names].to_numpy(dtype=float)


class Standardizer:
    """Column means/stds and NaN -> 0 (the mean) after scaling; for linear and neural families."""

    def __init__(self, mean: np.ndarray | None = None, std: np.ndarray | None = None) -> None:
        self.mean, self.std = mean, std

    def fit(self, a: np.ndarray) -> Standardizer:
        # An all-NaN column (e.g. a volume feature on close-only data) scales to 0 without a warning.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            self.mean = np.nan_to_num(np.nanmean(a, axis=0))
            std = np.nan_to_num(np.nanstd(a, axis=0))
        self.std = np.where(std > 0, std, 1.0)
        return self

    def transform(self, a: np.ndarray) -> np.ndarray:
        z = (a - self.mean) / self.std
        # Clip extreme values so one outlier row cannot dominate a linear fit.
        return np.clip(np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0), -10, 10)

    def state(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_state(cls, s: dict) -> Standardizer:
        return cls(np.asarray(s["mean"], dtype=float), np.asarray(s["std"], dtype=float))
