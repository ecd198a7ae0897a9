"""`pmx run --source csv` on a small file: rows with problems are quarantined, the run goes on."""

from __future__ import annotations

import pandas as pd
from pipeline_helpers import read_table, run_cli, sample_slice_csv, small_config


def test_csv_run_quarantines_bad_rows_and_completes(tmp_path):
    csv = sample_slice_csv(tmp_path / "prices.csv")
    frame = pd.read_csv(csv)
    bad = pd.DataFrame(
        {
            "date": ["1996-03-05", "1996-03-09", "1996-03-06", "1996-03-07"],
            "ticker": ["AAPL", "KO", "KO", "ZZZ"],
            "close": [None, 40.0, -3.0, 10.0],
        }
    )
    # A duplicate key with a different value: both copies are ambiguous and quarantined.
    dup = frame[(frame.ticker == "XOM") & (frame.date == "1996-03-05")].assign(close=999.0)
    frame = frame[~((frame.ticker == "AAPL") & (frame.date == "1996-03-05"))]
    frame = frame[~((frame.ticker == "KO") & (frame.date == "1996-03-06"))]
    pd.concat([frame, bad, dup]).to_csv(csv, index=False)
    home = tmp_path / "data"
    config = small_config(tmp_path / "config.yaml")
    assert (
        run_cli(
            home,
            "--config",
            str(config),
            "--source",
            "csv",
            "--csv",
            str(csv),
            "--tickers",
            "AAPL,JNJ,KO,MSFT,XOM",
            "--start",
            "1995-01-03",
            "--end",
            "1999-12-31",
        )
        == 0
    )
    wh = home / "warehouse.duckdb"
    rejected = read_table(wh, "rejected_prices")
    reasons = dict(
        zip(rejected["ticker"] + "@" + rejected["date"].astype(str), rejected["reason"], strict=True)
    )
    assert reasons["AAPL@1996-03-05"] == "missing close"
    assert reasons["KO@1996-03-09"] == "weekend date"
    assert reasons["KO@1996-03-06"] == "non-positive close"
    assert reasons["ZZZ@1996-03-07"] == "ticker not in the configured universe"
    assert reasons["XOM@1996-03-05"] == "duplicate key with different values"
    raw = read_table(wh, "raw_prices_csv")
    prices = read_table(wh, "prices")
    assert len(raw) == len(prices) + len(rejected)  # nothing lost
    assert set(prices["source"]) == {"csv"}
    assert len(read_table(wh, "allocations")) > 0
