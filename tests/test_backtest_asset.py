"""The backtest and report assets materialized by Dagster over a real DuckDB warehouse whose inputs
(synthetic prices WITH volume, allocations, regimes, forecasts, targets) are written directly, so
impact and capacity are estimable here, unlike on the close-only sample."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from portfolio_dagster.assets.backtest import backtest
from portfolio_dagster.assets.report import REPORT_FILE, report
from portfolio_dagster.config import load_config
from portfolio_dagster.resources.artifacts import ArtifactStore
from portfolio_dagster.resources.settings import PipelineSettings
from portfolio_dagster.resources.warehouse import Warehouse

TICKERS = ("AAA", "BBB", "CCC", "DDD")
N_DAYS = 320


def _write_inputs(warehouse: Warehouse) -> None:
    """Synthetic market (labelled test data): random-walk closes and volumes, a momentum-free allocation."""
    rng = np.random.default_rng(21)
    days = pd.bdate_range("2007-06-01", periods=N_DAYS)
    prices, alloc, forecasts, targets = [], [], [], []
    for t in (*TICKERS, "SP500"):
        close = 50 * np.exp(np.cumsum(rng.normal(0.001, 0.015, N_DAYS)))  # drift: a positive Sharpe
        volume = rng.uniform(2e5, 2e6, N_DAYS)
        prices.append(
            pd.DataFrame(
                {
                    "ticker": t,
                    "date": days.date,
                    "open": np.nan,
                    "high": np.nan,
                    "low": np.nan,
                    "close": close,
                    "volume": volume,
                    "source": "test",
                }
            )
        )
        if t != "SP500":
            fwd = pd.Series(close).shift(-21) / close - 1
            targets.append(pd.DataFrame({"ticker": t, "date": days.date, "return_21d": fwd}))
            forecasts.append(
                pd.DataFrame(
                    {
                        "ticker": t,
                        "date": days.date,
                        "horizon": 21,
                        "model": "ensemble",
                        "prediction": fwd.fillna(0) + rng.normal(0, 0.05, N_DAYS),
                        "model_id": "m1",
                    }
                )
            )
    for d in days[:-1]:
        w = rng.dirichlet(np.ones(len(TICKERS))) * 0.7
        alloc += [(d.date(), t, float(x), "risky", "") for t, x in zip(TICKERS, w, strict=True)] + [
            (d.date(), "CASH", 0.3, "safe", "")
        ]
    regimes = pd.DataFrame(
        {
            "date": days.date,
            "state": np.where(np.arange(N_DAYS) % 40 < 15, "turbulent", "calm"),
            "probabilities": json.dumps({"calm": 0.5, "turbulent": 0.5}),
        }
    )
    warehouse.replace_where("prices", pd.concat(prices, ignore_index=True))
    warehouse.replace_where(
        "allocations", pd.DataFrame(alloc, columns=["date", "ticker", "weight", "sleeve", "reasons"])
    )
    warehouse.replace_where("regimes", regimes)
    warehouse.replace_where("targets", pd.concat(targets, ignore_index=True))
    warehouse.replace_where("forecasts", pd.concat(forecasts, ignore_index=True))


@pytest.fixture(scope="module")
def materialized(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("backtest_asset")
    cfg = load_config().model_dump(mode="json")
    cfg["backtest"]["start"] = "2007-06-01"
    cfg["targets"]["horizons"] = [21]
    # The stored allocations below are a rule-based product's (strategy.mode rule_based): the ML barbells
    # are recomputed from the forecasts.
    cfg["strategy"]["mode"] = "rule_based"
    config_path = root / "config.yaml"
    config_path.write_text(yaml.safe_dump(cfg))
    warehouse = Warehouse(path=str(root / "warehouse.duckdb"))
    _write_inputs(warehouse)
    result = dg.materialize(
        [backtest, report],
        resources={
            "settings": PipelineSettings(config_path=str(config_path)),
            "warehouse": warehouse,
            "artifacts": ArtifactStore(root=str(root)),
        },
    )
    assert result.success
    tables = {
        t: warehouse.query(f"SELECT * FROM {t}")
        for t in (
            "backtest_daily",
            "backtest_summary",
            "backtest_rolling",
            "backtest_regimes",
            "backtest_criteria",
            "backtest_variants",
        )
    }
    return {"root": root, "result": result, "tables": tables}


def test_every_evaluation_table_is_written(materialized):
    for name, frame in materialized["tables"].items():
        assert len(frame) > 0, name
    daily = materialized["tables"]["backtest_daily"]
    assert set(daily["strategy"]) == {
        "ml_barbell",
        "rule_barbell",
        "ml_risk_barbell",
        "ml_alpha_barbell",
        "ml_barbell_lag1",
        "equal_weight",
        "benchmark",
    }
    assert pd.to_datetime(daily["date"]).min() > pd.Timestamp(
        "2007-06-01"
    )  # the first decision earns the next day


def test_each_ml_part_has_its_test_against_the_rule(materialized):
    s = materialized["tables"]["backtest_summary"].set_index(["strategy", "metric"])["value"]
    for strategy in ("ml_barbell", "ml_risk_barbell", "ml_alpha_barbell"):
        assert 0 <= s[(strategy, "sharpe_diff_pvalue")] <= 1, strategy
        assert np.isfinite(s[(strategy, "sharpe_diff_vs_rule")]), strategy


def test_impact_and_capacity_are_estimated_when_volume_exists(materialized):
    s = materialized["tables"]["backtest_summary"].set_index(["strategy", "metric"])["value"]
    assert s[("ml_barbell", "impact_estimable")] == 1
    daily = materialized["tables"]["backtest_daily"]
    assert (daily.loc[daily["strategy"] == "ml_barbell", "impact_cost"] > 0).any()
    crit = materialized["tables"]["backtest_criteria"].set_index("criterion")
    cap = s[("rule_barbell", "capacity_usd")]  # the criteria judge the product (strategy.mode rule_based)
    assert s[("ml_barbell", "sharpe")] > 0 and s[("ml_barbell", "capacity_usd")] > 0
    assert 0 < cap < 1e13 and crit.loc["capacity", "measured"] == pytest.approx(cap)
    assert crit.loc["capacity", "passed"] == (cap > 1e7)
    assert "21d" in crit.loc["directional accuracy across horizons", "detail"]


def test_backtest_metadata_and_report_file(materialized):
    events = materialized["result"].get_asset_materialization_events()
    meta = {e.asset_key.path[-1]: e.materialization.metadata for e in events}
    assert meta["backtest"]["equity_curve"].value.startswith("![equity](data:image/png;base64,")
    assert "sharpe" in meta["backtest"]["summary"].value and "capacity" in meta["backtest"]["criteria"].value
    assert Path(meta["backtest"]["equity_png"].value).read_bytes()[:4] == b"\x89PNG"
    page = (materialized["root"] / "reports" / REPORT_FILE).read_text()
    assert "success criteria" in page and page.count("data:image/png;base64,") == 7


def test_with_rule_based_as_the_product_rule_barbell_is_the_stored_allocations(materialized):
    """strategy.mode rule_based (this fixture's): the stored allocations are the product, backtested as
    rule_barbell (and as the paper ledger's shadow); ml_barbell is the same barbell on the ML forecasts."""
    from portfolio_dagster.assets.backtest import evaluation_inputs
    from portfolio_dagster.quant.evaluation import product_run

    settings = PipelineSettings(config_path=str(materialized["root"] / "config.yaml"))
    assert settings.config.strategy.mode == "rule_based"
    warehouse = Warehouse(path=str(materialized["root"] / "warehouse.duckdb"))
    shadow = product_run(evaluation_inputs(warehouse, settings.config, full=False)).daily
    daily = materialized["tables"]["backtest_daily"]
    rule = daily[daily["strategy"] == "rule_barbell"].sort_values("date")
    ml = daily[daily["strategy"] == "ml_barbell"].sort_values("date")
    np.testing.assert_allclose(
        rule["net_return"].to_numpy(), shadow["net_return"].to_numpy(), rtol=0, atol=1e-14
    )
    assert not np.allclose(ml["net_return"].to_numpy(), rule["net_return"].to_numpy())


def test_the_product_is_named_in_the_summary_criteria_and_report(materialized):
    """strategy.mode rule_based: backtest_summary marks rule_barbell as the product, the criteria are
    its figures, and the report's headline and criteria say which strategy is the product."""
    s = materialized["tables"]["backtest_summary"]
    marked = s[s["metric"] == "is_product"].set_index("strategy")["value"]
    assert marked.to_dict() == {name: float(name == "rule_barbell") for name in marked.index}
    assert {"ml_barbell", "rule_barbell", "equal_weight", "benchmark"} <= set(marked.index)
    value = s.set_index(["strategy", "metric"])["value"]
    crit = materialized["tables"]["backtest_criteria"].set_index("criterion")
    assert crit.loc["Sharpe ratio", "measured"] == pytest.approx(value[("rule_barbell", "sharpe")])
    assert crit.loc["Sharpe ratio", "measured"] != pytest.approx(value[("ml_barbell", "sharpe")])
    page = (materialized["root"] / "reports" / REPORT_FILE).read_text()
    assert "rule barbell (ML off) - product" in page
    assert "success criteria, judged on the product (rule barbell (ML off))" in page
    headline = page.split("<table class='num'>")[1].split("</thead>")[0]
    assert headline.index("rule barbell (ML off) - product") < headline.index("ML barbell")
