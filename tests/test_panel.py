"""quant/panel: the Arrow-read panels (Warehouse.universe_panels, panel.wide_coded) equal the pivot's,
value for value, whatever the rows' order, with holes and late-starting tickers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from portfolio_dagster.config import load_config
from portfolio_dagster.quant.calendar import sessions
from portfolio_dagster.quant.panel import wide_coded, wide_many
from portfolio_dagster.resources.warehouse import Warehouse


def _rows(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = sessions(dt.date(2020, 1, 2), dt.date(2020, 4, 1))
    frames = []
    for i, ticker in enumerate(["MSFT", "AAPL", "ZZZ", "KO"]):
        own = days[i * 5 :]  # later starts
        frame = pd.DataFrame({"ticker": ticker, "date": own, "close": rng.lognormal(4, 0.1, len(own))})
        frame["open"] = frame["close"] * rng.uniform(0.99, 1.01, len(own))
        frames.append(frame.drop(index=frame.index[3 + i]))  # a hole each
    rows = pd.concat(frames, ignore_index=True)
    rows.loc[7, "open"] = np.nan  # a missing field
    return rows.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_wide_coded_equals_the_pivot_in_any_row_order():
    rows = _rows()
    coded = rows.assign(ticker=pd.Categorical(rows["ticker"], categories=sorted(rows["ticker"].unique())))
    expected = wide_many(rows, ["close", "open"])
    got = wide_coded(coded, ["close", "open"])
    for c in ("close", "open"):
        pd.testing.assert_frame_equal(got[c], expected[c], check_exact=True)
    assert list(got["close"].columns) == ["AAPL", "KO", "MSFT", "ZZZ"] and got["open"].isna().sum().sum() > 4


@pytest.mark.parametrize("columns", [["close"], ["open", "close"]])
def test_universe_panels_are_universe_prices_pivoted(tmp_path, columns):
    cfg = load_config()
    wh = Warehouse(path=str(tmp_path / "w.duckdb"))
    rows = _rows(1)
    benchmark = rows[rows["ticker"] == "KO"].assign(ticker=cfg.data.benchmark)  # excluded, as the safe sleeve
    wh.append("prices", pd.concat([rows, benchmark]).assign(date=lambda f: f["date"].dt.date, source="csv"))
    first, end = dt.date(2020, 1, 10), dt.date(2020, 3, 2)
    px = wh.universe_prices(first, end, cfg, columns=f"ticker, date, {', '.join(columns)}")
    expected = wide_many(px, columns)
    got = wh.universe_panels(first, end, cfg, columns)
    for c in columns:
        pd.testing.assert_frame_equal(got[c], expected[c], check_exact=True)
    assert cfg.data.benchmark not in got[columns[0]].columns
    nothing = wh.universe_panels(dt.date(2030, 1, 1), dt.date(2030, 2, 1), cfg, columns)
    assert all(nothing[c].empty for c in columns)
