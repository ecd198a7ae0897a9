"""A file of stocks only runs with `strategy.safe_assets: []`: the safe sleeve is uninvested cash, an
allocation row CASH (sleeve safe) earning 0; without that setting the run stops before any stage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml
from pipeline_helpers import SLICE_END, SLICE_START, SLICE_TICKERS, read_table, run_cli, small_config

from portfolio_dagster.resources.sources import sample_prices


def _stock_only_csv(path):
    px = sample_prices("SP500")
    px = px[px["ticker"].isin([*SLICE_TICKERS, "SP500"])]
    px = px[(px["date"] >= pd.Timestamp(SLICE_START).date()) & (px["date"] <= pd.Timestamp(SLICE_END).date())]
    px[["date", "ticker", "close"]].to_csv(path, index=False)
    return path


def _args(config, csv):
    return ("--config", str(config), "--csv", str(csv), "--start", SLICE_START, "--end", SLICE_END)


def test_stock_only_csv_needs_safe_assets_empty_and_says_so(tmp_path, capsys):
    csv = _stock_only_csv(tmp_path / "stocks.csv")
    home = tmp_path / "data"
    assert run_cli(home, *_args(small_config(tmp_path / "config.yaml"), csv)) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "safe-sleeve ticker CASH" in err and "[] for a stock-only file" in err
    assert not (home / "warehouse.duckdb").exists()


def test_stock_only_csv_runs_with_uninvested_cash(tmp_path):
    csv = _stock_only_csv(tmp_path / "stocks.csv")
    config = small_config(tmp_path / "config.yaml")
    cfg = yaml.safe_load(config.read_text())
    cfg["strategy"]["safe_assets"] = []
    cfg["models"]["enabled"] = ["bayesian_ridge"]
    config.write_text(yaml.safe_dump(cfg))
    home = tmp_path / "data"
    assert run_cli(home, *_args(config, csv)) == 0
    wh = home / "warehouse.duckdb"
    assert "CASH" not in set(read_table(wh, "prices")["ticker"])
    alloc = read_table(wh, "allocations")
    cash = alloc[alloc["ticker"] == "CASH"]
    assert set(cash["sleeve"]) == {"safe"} and (cash["weight"] > 0).any()
    sums = alloc.groupby("date")["weight"].sum()
    assert np.allclose(sums, 1.0)
    daily = read_table(wh, "backtest_daily")
    # Every strategy is evaluated; on a day wholly in cash the product earns exactly 0 gross.
    assert {"ml_barbell", "rule_barbell", "equal_weight", "benchmark"} <= set(daily["strategy"])
    summary = read_table(wh, "backtest_summary")
    name = summary[(summary.metric == "is_product") & (summary.value == 1)]["strategy"].iat[0]
    product = daily[daily["strategy"] == name].set_index("date")["gross_return"].sort_index()
    product.index = pd.to_datetime(product.index)
    assert np.isfinite(product).all()
    # Held in cash through a day (three all-cash decisions in a row, whatever the fill convention): 0.
    weights = cash.set_index("date")["weight"].sort_index()
    in_cash = pd.Series(np.isclose(weights, 1.0), index=pd.to_datetime(weights.index))
    middle = in_cash & in_cash.shift(1, fill_value=False) & in_cash.shift(-1, fill_value=False)
    days = product.reindex(middle[middle].index).dropna()
    assert len(days) > 0
    assert np.allclose(days, 0.0, atol=1e-12)
    assert np.isfinite(summary[(summary.strategy == name) & (summary.metric == "sharpe")]["value"]).all()
