"""Model zoo timings and out-of-sample skill on the bundled sample (20 US large caps, 1990-2022).

For the default config (or --config), trains every model set the `models` asset would train
(retrain schedule from backtest.start, every horizon), with the same features, targets and point-in-time
regime probabilities, and predicts each date with the set valid then, as the `forecasts` asset does.
Prints: train and inference seconds per family (summed over all sets), the regime HMM fit time, and the
out-of-sample skill table per model and horizon (directional accuracy next to the base rate, IC, rank IC,
MAE, interval coverage) over backtest.start..data end. Compute only: no Dagster, no warehouse.

With --select: every configuration of models.candidates (the base first) is trained at every retrain
date and the one with the best inner rank IC is chosen per horizon by nested walk-forward
(quant/models/selection.py); the skill table is then of the chosen forecasts, with the choices listed.

Run: .venv/bin/python -m benchmarks.bench_models [--config FILE] [--families lightgbm,xgboost,...]
     [--horizons 1,21] [--select]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
from skfolio.datasets import load_sp500_dataset

from portfolio_dagster.config import load_config
from portfolio_dagster.quant import features as feature_set
from portfolio_dagster.quant import regimes, targets, walk_forward
from portfolio_dagster.quant.models import ENSEMBLE
from portfolio_dagster.quant.models.selection import candidates_from_config, nested_walk_forward
from portfolio_dagster.quant.models.skill import oos_skill
from portfolio_dagster.quant.models.training import (
    context_days,
    period_context,
    train_model_set,
    training_spec,
)
from portfolio_dagster.quant.panel import wide
from portfolio_dagster.quant.targets import target_name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default=None)
    parser.add_argument("--families", default=None, help="comma-separated; default: models.enabled")
    parser.add_argument("--horizons", default=None, help="comma-separated; default: targets.horizons")
    parser.add_argument(
        "--select", action="store_true", help="nested walk-forward choice among models.candidates"
    )
    parser.add_argument(
        "--last",
        type=int,
        default=None,
        help="only the last N retrain dates (a timing subset; the skill is then of those periods)",
    )
    args = parser.parse_args()
    cfg = load_config(args.config) if args.config else load_config()
    if args.families:
        cfg = cfg.model_validate(
            cfg.model_dump()
            | {"models": cfg.models.model_dump() | {"enabled": tuple(args.families.split(","))}}
        )
    m = cfg.models
    horizons = tuple(int(h) for h in args.horizons.split(",")) if args.horizons else cfg.targets.horizons
    # The bundled sample's 20 stocks (the same adjusted closes the `sample` source serves).
    wide_close = load_sp500_dataset()
    px = (
        wide_close.rename_axis("date")
        .reset_index()
        .melt(id_vars="date", var_name="ticker", value_name="close")
    )
    px = px.dropna()[["ticker", "date", "close"]]
    px["date"] = pd.to_datetime(px["date"])
    rows = feature_set.compute(px).merge(targets.compute(px, cfg.targets.horizons), on=["ticker", "date"])
    rows = rows.sort_values(["date", "ticker"]).reset_index(drop=True)

    t0 = time.perf_counter()
    mf = regimes.market_features(wide(px, "close"))
    refits = walk_forward.retrain_dates(
        mf.index, mf.index[m.regime_min_train_days].date(), m.retrain_frequency
    )
    probs = regimes.walk_forward_probabilities(
        mf, refits, m.seed, m.regime_min_train_days, m.rolling_days if m.window == "rolling" else None
    )
    hmm_seconds = time.perf_counter() - t0
    rows = regimes.with_regime_columns(rows, probs)

    calendar = pd.DatetimeIndex(rows["date"].unique()).sort_values()
    schedule = walk_forward.retrain_dates(calendar, cfg.backtest.start, m.retrain_frequency)
    if args.last:
        schedule = schedule[-args.last :]
    fit_s, predict_s, out, sets = {}, {}, [], 0
    t_all, cpu_all = time.perf_counter(), time.process_time()
    if args.select:
        return _select(rows, schedule, cfg, horizons, hmm_seconds, t_all, cpu_all)
    for h in horizons:
        spec = training_spec(m, h, cfg.features.selected)
        for i, asof in enumerate(schedule):
            ms = train_model_set(rows, calendar, asof, target_name(h), spec)
            if ms is None:
                continue
            sets += 1
            for k, v in ms.fit_seconds.items():
                fit_s[k] = fit_s.get(k, 0.0) + v
            ctx, keep = period_context(
                rows, calendar, asof, schedule[i + 1] if i + 1 < len(schedule) else None, context_days(spec)
            )
            points = {}
            for family, model in ms.models.items():
                t1 = time.perf_counter()
                p, lo, hi = model.predict_interval(ctx)
                predict_s[family] = predict_s.get(family, 0.0) + time.perf_counter() - t1
                points[family] = p[keep]
                out.append(
                    pd.DataFrame(
                        {
                            "model": family,
                            "horizon": h,
                            "date": ctx["date"].to_numpy()[keep],
                            "prediction": p[keep],
                            "lower": lo[keep],
                            "upper": hi[keep],
                            "actual": ctx[target_name(h)].to_numpy()[keep],
                        }
                    )
                )
            p, lo, hi = ms.ensemble.interval(points)
            out.append(
                pd.DataFrame(
                    {
                        "model": ENSEMBLE,
                        "horizon": h,
                        "date": ctx["date"].to_numpy()[keep],
                        "prediction": p,
                        "lower": lo,
                        "upper": hi,
                        "actual": ctx[target_name(h)].to_numpy()[keep],
                    }
                )
            )
    total = time.perf_counter() - t_all
    print(
        f"sample: {rows['ticker'].nunique()} tickers, {len(calendar)} days; {len(schedule)} retrain dates "
        f"({m.retrain_frequency}) x {len(horizons)} horizons = {sets} model sets; "
        f"features: {len(training_spec(m, 1, cfg.features.selected).feature_names)}"
    )
    print(f"regime HMM: {len(refits)} fits in {hmm_seconds:.1f} s")
    print(f"{'family':<16} {'train s':>8} {'predict s':>10}")
    for family in m.enabled:
        print(f"{family:<16} {fit_s.get(family, 0):8.1f} {predict_s.get(family, 0):10.2f}")
    print(
        f"all model sets (train + validation + importance + predict): {total:.1f} s wall, "
        f"{time.process_time() - cpu_all:.1f} s CPU"
    )
    _print_skill(pd.concat(out, ignore_index=True), schedule[0], calendar[-1])


SKILL_COLUMNS = [
    "model",
    "horizon",
    "observations",
    "directional_accuracy",
    "base_rate",
    "ic",
    "rank_ic",
    "rank_ic_tstat",
    "mae",
    "interval_coverage",
]


def _print_skill(forecasts: pd.DataFrame, first, last) -> None:
    skill = oos_skill(forecasts)
    with pd.option_context("display.width", 180, "display.float_format", "{:.4f}".format):
        print(
            f"\nout-of-sample skill {first.date()}..{last.date()} (coverage nominal 0.80; rank_ic_tstat: "
            "Newey-West, lags >= 2 (h - 1)):"
        )
        print(skill[SKILL_COLUMNS].to_string(index=False))


def _select(
    rows: pd.DataFrame, schedule, cfg, horizons, hmm_seconds: float, t_all: float, cpu_all: float
) -> None:
    candidates = candidates_from_config(cfg.models)
    out = []
    for h in horizons:
        fc, choices = nested_walk_forward(
            rows, schedule, training_spec(cfg.models, h, cfg.features.selected), candidates, target_name(h)
        )
        out.append(
            fc.merge(
                rows[["ticker", "date", target_name(h)]].rename(columns={target_name(h): "actual"}),
                on=["ticker", "date"],
            )
        )
        print(f"h={h}: " + ", ".join(f"{c.asof.date()}:{c.chosen}" for c in choices))
    print(
        f"candidates: {', '.join(c.name for c in candidates)}; features: "
        f"{len(training_spec(cfg.models, 1, cfg.features.selected).feature_names)}; regime HMM "
        f"{hmm_seconds:.1f} s; "
        f"all candidates' model sets ({len(schedule)} retrain dates x {len(horizons)} horizons): "
        f"{time.perf_counter() - t_all:.1f} s wall, {time.process_time() - cpu_all:.1f} s CPU"
    )
    _print_skill(pd.concat(out, ignore_index=True), schedule[0], rows["date"].max())


if __name__ == "__main__":
    main()
