"""Skill against training rows (issue 22): one model set trained at a retrain date with max_train_rows of
10k, 100k, 1M and all fit rows; out-of-sample rank IC over the year after it and fit seconds per family.

Two panels: the bundled sample (20 US large caps) and a SYNTHETIC universe (benchmarks/synthetic_universe:
a planted per-name drift; its theoretical rank IC is printed beside). Default config otherwise
(features.selected, the family's hyper-parameters); single-threaded.

Run: .venv/bin/python -m benchmarks.bench_train_rows [--names 100 --years 20 --families lightgbm,xgboost
     --horizon 21 --asof 2021-01-04 --rows 10000,100000,1000000,all] [--skip sample]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import pandas as pd
from skfolio.datasets import load_sp500_dataset

from benchmarks.synthetic_universe import BENCHMARK, BOND, CASH, feature_ic, oracle_ic, universe
from portfolio_dagster.config import load_config
from portfolio_dagster.quant import features as feature_set
from portfolio_dagster.quant import targets
from portfolio_dagster.quant.metrics import cross_sectional_ic
from portfolio_dagster.quant.models.training import train_model_set, training_spec
from portfolio_dagster.quant.targets import target_name


def model_rows(px: pd.DataFrame, market: pd.Series | None, horizons) -> pd.DataFrame:
    rows = feature_set.compute(px, market).merge(targets.compute(px, horizons), on=["ticker", "date"])
    return rows.sort_values(["date", "ticker"]).reset_index(drop=True)


def sample_rows(horizons) -> pd.DataFrame:
    wide_close = load_sp500_dataset()
    px = (
        wide_close.rename_axis("date")
        .reset_index()
        .melt(id_vars="date", var_name="ticker", value_name="close")
    )
    px = px.dropna()[["ticker", "date", "close"]]
    px["date"] = pd.to_datetime(px["date"])
    return model_rows(px, None, horizons)


def synthetic_rows(names: int, years: int, horizons) -> pd.DataFrame:
    frame, _ = universe(names, years)
    px = frame.to_pandas()
    px["date"] = pd.to_datetime(px["date"])
    market = px[px["ticker"] == BENCHMARK].set_index("date")["close"]
    return model_rows(px[~px["ticker"].isin([BENCHMARK, CASH, BOND])], market, horizons)


def skill_curve(label: str, rows: pd.DataFrame, cfg, families, horizon: int, asof, sizes) -> None:
    calendar = pd.DatetimeIndex(rows["date"].unique()).sort_values()
    asof = calendar[calendar.searchsorted(pd.Timestamp(asof))]
    test = rows[(rows["date"] >= asof) & (rows["date"] < asof + pd.DateOffset(years=1))].dropna(
        subset=[target_name(horizon)]
    )
    base = training_spec(cfg.models, horizon, cfg.features.selected)
    print(
        f"\n{label}: horizon {horizon}, model set of {asof.date()}, "
        f"tested on {len(test)} rows of the next year"
    )
    print(f"  {'family':<16} {'max_train_rows':>14} {'fit rows':>10} {'fit s':>8} {'OOS rank IC':>12}")
    for family in families:
        for size in sizes:
            params = dict(base.params.get(family, {})) | {"max_train_rows": size}
            spec = dataclasses.replace(base, families=(family,), params={family: params})
            t0 = time.perf_counter()
            ms = train_model_set(rows, calendar, asof, target_name(horizon), spec)
            seconds = time.perf_counter() - t0
            if ms is None:
                print(f"  {family:<16} no model set (too few fit days)")
                break
            pred = ms.models[family].predict(test)
            ic = cross_sectional_ic(
                pd.DataFrame(
                    {"date": test["date"], "prediction": pred, "actual": test[target_name(horizon)]}
                ),
                rank=True,
            )
            fit_rows = ms.metrics[family]["fit_rows"]
            used = fit_rows if size is None else min(size, fit_rows)
            print(
                f"  {family:<16} {str(size or 'all'):>14} {used:>10} {seconds:>8.1f} "
                f"{float(np.nanmean(ic)):>12.4f}"
            )
            if size is not None and size >= fit_rows:
                break


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, default=100)
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--families", default="lightgbm,xgboost,bayesian_ridge")
    parser.add_argument("--horizon", type=int, default=21)
    parser.add_argument("--asof", default="2021-01-04")
    parser.add_argument("--rows", default="10000,100000,1000000,all")
    parser.add_argument("--skip", default="", help="sample and/or synthetic")
    args = parser.parse_args()
    cfg = load_config()
    sizes = [None if s == "all" else int(s) for s in args.rows.split(",")]
    families = args.families.split(",")
    horizons = (args.horizon,)
    if "synthetic" not in args.skip.split(","):
        print(
            f"SYNTHETIC planted drift: oracle rank IC at {args.horizon}d ~{oracle_ic(args.horizon):.3f}, "
            f"through a 252-day trailing return ~{feature_ic(args.horizon, 252):.3f} (Pearson; Gaussian)"
        )
        rows = synthetic_rows(args.names, args.years, horizons)
        skill_curve(
            f"SYNTHETIC {args.names} names x {args.years} y",
            rows,
            cfg,
            families,
            args.horizon,
            args.asof,
            sizes,
        )
        del rows
    if "sample" not in args.skip.split(","):
        skill_curve("sample (20 names)", sample_rows(horizons), cfg, families, args.horizon, args.asof, sizes)


if __name__ == "__main__":
    main()
