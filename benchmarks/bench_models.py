"""Model zoo timings and out-of-sample skill on the bundled sample (20 US large caps, 1990-2022).

For the default config (or --config), trains every model set the `models` asset would train
(retrain schedule from backtest.start, every horizon), with the same features, targets and point-in-time
regime probabilities, and predicts each date with the set valid then, as the `forecasts` asset does.
Prints: train and inference seconds per family (summed over all sets), the regime HMM fit time, and the
out-of-sample skill table per model and horizon (directional accuracy next to the base rate, IC, rank IC,
MAE, interval coverage) over backtest.start..data end. Compute only: no Dagster, no warehouse.

Run: .venv/bin/python -m benchmarks.bench_models [--config FILE] [--families lightgbm,xgboost,...]
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
from portfolio_dagster.quant.models.skill import oos_skill
from portfolio_dagster.quant.models.training import context_days, train_model_set, training_spec
from portfolio_dagster.quant.panel import wide
from portfolio_dagster.quant.targets import target_name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default=None)
    parser.add_argument("--families", default=None, help="comma-separated; default: models.enabled")
    args = parser.parse_args()
    cfg = load_config(args.config) if args.config else load_config()
    if args.families:
        cfg = cfg.model_validate(cfg.model_dump() | {"models": cfg.models.model_dump() | {
            "enabled": tuple(args.families.split(","))}})
    m = cfg.models
    # The bundled sample's 20 stocks (the same adjusted closes the `sample` source serves).
    wide_close = load_sp500_dataset()
    px = wide_close.rename_axis("date").reset_index().melt(id_vars="date", var_name="ticker", value_name="close")
    px = px.dropna()[["ticker", "date", "close"]]
    px["date"] = pd.to_datetime(px["date"])
    rows = feature_set.compute(px).merge(targets.compute(px, cfg.targets.horizons), on=["ticker", "date"])
    rows = rows.sort_values(["date", "ticker"]).reset_index(drop=True)

    t0 = time.perf_counter()
    mf = regimes.market_features(wide(px, "close"))
    refits = walk_forward.retrain_dates(mf.index, mf.index[m.regime_min_train_days].date(), m.retrain_frequency)
    probs = regimes.walk_forward_probabilities(mf, refits, m.seed, m.regime_min_train_days,
                                               m.rolling_days if m.window == "rolling" else None)
    hmm_seconds = time.perf_counter() - t0
    rows = regimes.with_regime_columns(rows, probs)

    calendar = pd.DatetimeIndex(rows["date"].unique()).sort_values()
    schedule = walk_forward.retrain_dates(calendar, cfg.backtest.start, m.retrain_frequency)
    fit_s, predict_s, out, sets = {}, {}, [], 0
    t_all = time.perf_counter()
    for h in cfg.targets.horizons:
        spec = training_spec(m, h)
        for i, asof in enumerate(schedule):
            ms = train_model_set(rows, calendar, asof, target_name(h), spec)
            if ms is None:
                continue
            sets += 1
            for k, v in ms.fit_seconds.items():
                fit_s[k] = fit_s.get(k, 0.0) + v
            stop = schedule[i + 1] if i + 1 < len(schedule) else calendar[-1] + pd.Timedelta(days=1)
            first = calendar[max(0, int(calendar.searchsorted(asof)) - context_days(spec))]
            ctx = rows[(rows["date"] >= first) & (rows["date"] < stop)]
            keep = (ctx["date"] >= asof).to_numpy()
            points = {}
            for family, model in ms.models.items():
                t1 = time.perf_counter()
                p, lo, hi = model.predict_interval(ctx)
                predict_s[family] = predict_s.get(family, 0.0) + time.perf_counter() - t1
                points[family] = p[keep]
                out.append(pd.DataFrame({"model": family, "horizon": h, "date": ctx["date"].to_numpy()[keep],
                                         "prediction": p[keep], "lower": lo[keep], "upper": hi[keep],
                                         "actual": ctx[target_name(h)].to_numpy()[keep]}))
            p, lo, hi = ms.ensemble.interval(points)
            out.append(pd.DataFrame({"model": ENSEMBLE, "horizon": h, "date": ctx["date"].to_numpy()[keep],
                                     "prediction": p, "lower": lo, "upper": hi,
                                     "actual": ctx[target_name(h)].to_numpy()[keep]}))
    total = time.perf_counter() - t_all
    print(f"sample: {rows['ticker'].nunique()} tickers, {len(calendar)} days; {len(schedule)} retrain dates "
          f"({m.retrain_frequency}) x {len(cfg.targets.horizons)} horizons = {sets} model sets; "
          f"features: {len(training_spec(m, 1).feature_names)}")
    print(f"regime HMM: {len(refits)} fits in {hmm_seconds:.1f} s")
    print(f"{'family':<16} {'train s':>8} {'predict s':>10}")
    for family in m.enabled:
        print(f"{family:<16} {fit_s.get(family, 0):8.1f} {predict_s.get(family, 0):10.2f}")
    print(f"all model sets (train + validation + importance + predict): {total:.1f} s")
    skill = oos_skill(pd.concat(out, ignore_index=True))
    cols = ["model", "horizon", "observations", "directional_accuracy", "base_rate", "ic", "rank_ic", "mae",
            "interval_coverage"]
    with pd.option_context("display.width", 160, "display.float_format", "{:.4f}".format):
        print(f"\nout-of-sample skill {schedule[0].date()}..{calendar[-1].date()} (coverage nominal 0.80):")
        print(skill[cols].to_string(index=False))


if __name__ == "__main__":
    main()
