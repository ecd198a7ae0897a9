"""A trained risk set (quant/risk_walk_forward.RiskSet) as native state, no pickle: numeric arrays (numpy
.npz, read with allow_pickle=False), LightGBM model text and a JSON-able header; and back. A set read back
predicts exactly what the fitted one did (the families predict from this state either way).

The cache key (set_key) names everything a set's fit depends on: the walk-forward settings, the retrain
date and a fingerprint of the returns (and OHLC) dated <= that date (the fit rows' inputs and realized
targets all come from them), so a restated or extended history before the date gives a new key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import numpy as np
import pandas as pd

from portfolio_dagster.quant.risk import HAR, LIGHTGBM, LOG_LINEAR
from portfolio_dagster.quant.risk_models import RiskModel, risk_model_class
from portfolio_dagster.quant.risk_walk_forward import RiskSet, RiskSpec

# Bump when a family's fit or state changes: older cached sets then stop matching.
# 2: the ML families learn the EWMA multiplier by the gamma deviance; 3: windows summed in a fixed order
# (quant/risk.trailing_sum) and chained history fingerprints; 4: the LightGBM family's rescale from its
# training scores (risk_models.LightGBMRisk).
STATE_VERSION = 4
_LINEAR_FIELDS = ("fill_", "mean_", "sd_", "coef_")


def history_fingerprints(frames: dict[str, pd.DataFrame], asofs) -> dict[pd.Timestamp, str]:
    """Per date of `asofs`: a sha256 over the frames' names and columns and their rows dated <= it (date
    x ticker frames, sorted by date), chained: each date's digest continues the previous date's with the
    rows between them, so the whole history is hashed once (a digest per date over its whole past was
    ~0.8 s of a 500-name session)."""
    laid_out = {}
    digest = hashlib.sha256()
    for name in sorted(frames):
        frame = frames[name]
        digest.update(name.encode())
        digest.update(json.dumps([str(c) for c in frame.columns]).encode())
        dates = frame.index.to_numpy(dtype="datetime64[ns]")
        laid_out[name] = (dates, np.ascontiguousarray(frame.to_numpy(dtype=float)))
    out, done = {}, dict.fromkeys(laid_out, 0)
    for asof in sorted(pd.Timestamp(a) for a in asofs):
        for name, (dates, values) in laid_out.items():
            rows = int(np.searchsorted(dates, np.datetime64(asof, "ns"), side="right"))
            digest.update(dates[done[name] : rows].tobytes())
            digest.update(memoryview(values[done[name] : rows]).cast("B"))
            done[name] = rows
        out[asof] = digest.copy().hexdigest()
    return out


def set_key(spec: RiskSpec, asof, fingerprint: str) -> str:
    """The cache name of the set trained at `asof` under `spec` on the history with `fingerprint`."""
    header = json.dumps(
        {"version": STATE_VERSION, "spec": asdict(spec), "asof": str(pd.Timestamp(asof).date())},
        sort_keys=True,
    )
    return hashlib.sha256((header + fingerprint).encode()).hexdigest()[:32]


def to_state(rs: RiskSet) -> tuple[dict, dict[str, np.ndarray], dict[str, str]]:
    """(header, arrays, texts) of a trained set: header JSON-able (asof, chosen, losses, each model's
    inputs and scalars), arrays for numpy's savez, texts the LightGBM model strings by model name."""
    header = {
        "version": STATE_VERSION,
        "asof": str(pd.Timestamp(rs.asof).date()),
        "chosen": rs.chosen,
        "calibration_qlike": rs.calibration_qlike,
        "models": {},
    }
    arrays, texts = {}, {}
    for name, model in rs.models.items():
        entry = {"horizon": model.horizon, "seed": model.seed, "threads": model.threads}
        if name == HAR:
            arrays[f"{name}.coef_"] = np.asarray(model.coef_, dtype=float)
            entry["floor_"] = float(model.floor_)
        elif name in (LOG_LINEAR, LIGHTGBM):
            entry |= {"inputs_": list(model.inputs_), "scale_": float(model.scale_)}
            if name == LOG_LINEAR:
                for f in _LINEAR_FIELDS:
                    arrays[f"{name}.{f}"] = np.asarray(getattr(model, f), dtype=float)
                entry["intercept_"] = float(model.intercept_)
            else:
                texts[name] = model.model_text_
        header["models"][name] = entry
    return header, arrays, texts


def from_state(header: dict, arrays: dict[str, np.ndarray], texts: dict[str, str]) -> RiskSet:
    """The RiskSet to_state described."""
    models: dict[str, RiskModel] = {}
    for name, entry in header["models"].items():
        model = risk_model_class(name)(entry["horizon"], entry["seed"], entry["threads"])
        if name == HAR:
            model.coef_, model.floor_ = np.asarray(arrays[f"{name}.coef_"]), float(entry["floor_"])
        elif name in (LOG_LINEAR, LIGHTGBM):
            model.inputs_, model.scale_ = list(entry["inputs_"]), float(entry["scale_"])
            if name == LOG_LINEAR:
                for f in _LINEAR_FIELDS:
                    setattr(model, f, np.asarray(arrays[f"{name}.{f}"], dtype=float))
                model.intercept_ = float(entry["intercept_"])
            else:
                model.load_model_text(texts[name])
        models[name] = model
    return RiskSet(
        pd.Timestamp(header["asof"]),
        models,
        {k: float(v) for k, v in header["calibration_qlike"].items()},
        header["chosen"],
    )
