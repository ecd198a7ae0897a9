"""Re-running a recent range is safe: it trains nothing new (the lineage hash leaves out the run's range),
evaluates every strategy over the same full span (backtest.start to the last session), and leaves every
row dated before the range bit-identical."""

from __future__ import annotations

import pandas as pd
from pipeline_helpers import SLICE_END, SLICE_START, read_table, run_cli, sample_slice_csv, small_config

RERUN_START = "1999-11-01"
BEFORE_RANGE_TABLES = ("prices", "features", "targets", "forecasts", "regimes", "signals", "allocations")


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("date", "ticker", "horizon", "model", "strategy") if c in frame.columns]
    return frame.sort_values(keys).reset_index(drop=True)


def test_rerunning_a_recent_range_trains_nothing_and_keeps_the_full_evaluation(tmp_path, capsys):
    csv = sample_slice_csv(tmp_path / "prices.csv")
    config = small_config(tmp_path / "config.yaml")
    home = tmp_path / "data"
    args = ("--config", str(config), "--csv", str(csv), "--tickers", "AAPL,JNJ,KO,MSFT,XOM")
    assert run_cli(home, *args, "--start", SLICE_START, "--end", SLICE_END) == 0
    wh = home / "warehouse.duckdb"
    before = {t: read_table(wh, t) for t in (*BEFORE_RANGE_TABLES, "model_registry", "backtest_daily")}
    summary = read_table(wh, "backtest_summary")
    capsys.readouterr()

    assert run_cli(home, *args, "--start", RERUN_START, "--end", SLICE_END) == 0
    after_registry = read_table(wh, "model_registry")
    assert len(after_registry) == len(before["model_registry"]) > 0  # nothing retrained
    assert set(after_registry["model_id"]) == set(before["model_registry"]["model_id"])

    cut = pd.Timestamp(RERUN_START)
    for table in BEFORE_RANGE_TABLES:
        old, new = before[table], read_table(wh, table)
        old, new = (_sorted(f[pd.to_datetime(f["date"]) < cut]) for f in (old, new))
        old, new = (f.drop(columns=[c for c in ("ingested_at",) if c in f.columns]) for f in (old, new))
        assert len(old) > 0, table
        pd.testing.assert_frame_equal(old, new, check_exact=True, obj=table)

    daily = read_table(wh, "backtest_daily")
    spans = daily.groupby("strategy")["date"].agg(["min", "max", "count"])
    assert spans["min"].nunique() == 1 and spans["max"].nunique() == 1 and spans["count"].nunique() == 1
    assert pd.Timestamp(spans["min"].iat[0]) < cut  # the full span, not the re-run's range
    pd.testing.assert_frame_equal(_sorted(before["backtest_daily"]), _sorted(daily), check_exact=True)
    pd.testing.assert_frame_equal(
        _sorted(summary), _sorted(read_table(wh, "backtest_summary")), check_exact=True
    )
